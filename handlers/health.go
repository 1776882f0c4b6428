package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// Readiness is the one thing the readiness probe needs from the database:
// whether it can take a change now (*models.Store.Ready). Answering reads
// is not enough: a read-only or full database answers every read.
type Readiness interface {
	Ready(ctx context.Context) error
}

// defaultReadyTimeout bounds the readiness check so a hung database makes the
// probe fail quickly instead of piling up probe requests.
const defaultReadyTimeout = 2 * time.Second

// Health answers the orchestrator's probes. Liveness and readiness are kept
// apart on purpose: a database outage should take a replica out of the load
// balancer (readiness) without getting the process restarted (liveness).
type Health struct {
	db      Readiness
	logger  *slog.Logger
	timeout time.Duration
}

// NewHealth returns the probe handlers. db is asked on every readiness
// check; logger receives the reason a replica is not ready, which the probe
// response itself does not reveal.
func NewHealth(db Readiness, logger *slog.Logger) *Health {
	return &Health{db: db, logger: logger, timeout: defaultReadyTimeout}
}

// Live serves GET /healthz: 200 "ok" whenever the process can answer HTTP.
// It checks no dependency, so a slow database never gets the process killed.
func (h *Health) Live(c echo.Context) error {
	return c.String(http.StatusOK, "ok")
}

// Ready serves GET /readyz: 200 when the database can take a change within
// the timeout, 503 otherwise. The body never says why (that would hand internals
// to anyone who can reach the probe); the log does.
func (h *Health) Ready(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), h.timeout)
	defer cancel()
	if err := h.db.Ready(ctx); err != nil {
		h.logger.WarnContext(ctx, "not ready: the database cannot take changes",
			slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
			slog.String("error", err.Error()),
		)
		return c.String(http.StatusServiceUnavailable, "not ready")
	}
	return c.String(http.StatusOK, "ready")
}
