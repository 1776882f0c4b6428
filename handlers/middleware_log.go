package handlers

import (
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/web/mattermost"
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
			ctx, mm := mattermost.WithCallTime(c.Request().Context())
			c.SetRequest(c.Request().WithContext(ctx))
			settle(c, next(c))

			req, res := c.Request(), c.Response()
			attrs := make([]slog.Attr, 0, 9)
			level := slog.LevelInfo
			if res.Status >= 500 {
				level = slog.LevelWarn
			}
			attrs = append(attrs,
				slog.String("request_id", requestID(c)),
				slog.String("method", req.Method),
				slog.String("path", req.URL.Path),
				slog.String("route", routeLabel(c)),
				slog.Int("status", res.Status),
				slog.Int64("bytes", res.Size),
				slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000),
				slog.String("remote_ip", c.RealIP()),
			)
			if d := mm.Total(); d > 0 {
				// Time spent waiting for Mattermost's API, part of
				// latency_ms: the rest is Countersign's own.
				attrs = append(attrs, slog.Float64("mattermost_ms", float64(d.Microseconds())/1000))
			}
			logger.LogAttrs(req.Context(), level, "http request", attrs...)
			return nil
		}
	}
}
