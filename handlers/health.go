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
	idp     Readiness
	logger  *slog.Logger
	timeout time.Duration
}

// NewHealth returns the probe handlers. db is asked on every readiness
// check; logger receives the reason a replica is not ready, which the probe
// response itself names only by the part that is not ready.
func NewHealth(db Readiness, logger *slog.Logger) *Health {
	return &Health{db: db, logger: logger, timeout: defaultReadyTimeout}
}

// WithIdentityProvider makes readiness also require the identity
// provider to have answered discovery: until it has, nobody can sign in.
func (h *Health) WithIdentityProvider(idp Readiness) *Health {
	c := *h
	c.idp = idp
	return &c
}

// Live serves GET /healthz: 200 "ok" whenever the process can answer HTTP.
// It checks no dependency, so a slow database never gets the process killed.
func (h *Health) Live(c echo.Context) error {
	return c.String(http.StatusOK, "ok")
}

// Ready serves GET /readyz: 200 when the database can take a change within
// the timeout (and, when configured, the identity provider has answered
// discovery), 503 otherwise. The body names the part that is not ready,
// never the error itself (that would hand internals to anyone who can
// reach the probe); the log has it.
func (h *Health) Ready(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), h.timeout)
	defer cancel()
	if err := h.db.Ready(ctx); err != nil {
		return h.notReady(c, "the database cannot take changes", err)
	}
	if h.idp != nil {
		if err := h.idp.Ready(ctx); err != nil {
			return h.notReady(c, "the identity provider has not answered discovery, so nobody can sign in", err)
		}
	}
	return c.String(http.StatusOK, "ready")
}

func (h *Health) notReady(c echo.Context, why string, err error) error {
	h.logger.WarnContext(c.Request().Context(), "not ready: "+why,
		slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
		slog.String("error", err.Error()),
	)
	return c.String(http.StatusServiceUnavailable, "not ready: "+why)
}
