package handlers

import (
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"
)

// settle hands err to the error handler now, so that middleware after the
// handler sees the status actually sent rather than a 200 that has not been
// overwritten yet. Afterwards the error counts as handled.
func settle(c echo.Context, err error) {
	if err != nil {
		c.Error(err)
	}
}

// requestLog writes one JSON line per request. It records the path without
// its query string (queries can carry codes, tokens or search terms) and
// never headers, cookies or bodies. The error itself is logged by the error
// handler, with the same request id.
func requestLog(logger *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			settle(c, next(c))

			req, res := c.Request(), c.Response()
			level := slog.LevelInfo
			if res.Status >= 500 {
				level = slog.LevelWarn
			}
			logger.LogAttrs(req.Context(), level, "http request",
				slog.String("request_id", requestID(c)),
				slog.String("method", req.Method),
				slog.String("path", req.URL.Path),
				slog.String("route", routeLabel(c)),
				slog.Int("status", res.Status),
				slog.Int64("bytes", res.Size),
				slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000),
				slog.String("remote_ip", c.RealIP()),
			)
			return nil
		}
	}
}
