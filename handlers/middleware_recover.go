package handlers

import (
	"fmt"
	"log/slog"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// recoverPanics keeps one broken handler from taking the process down. The
// panic and its stack go to the log with the request id; the client gets
// the generic 500 page from the error handler.
func recoverPanics(logger *slog.Logger) echo.MiddlewareFunc {
	return middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisableStackAll: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			logger.ErrorContext(c.Request().Context(), "panic recovered",
				slog.String("request_id", requestID(c)),
				slog.String("method", c.Request().Method),
				slog.String("route", c.Path()),
				slog.String("panic", err.Error()),
				slog.String("stack", string(stack)),
			)
			return fmt.Errorf("recovered panic: %w", err)
		},
	})
}
