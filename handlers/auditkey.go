package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// AuditKey publishes the verifier key of the signed audit checkpoints.
type AuditKey struct {
	key string
}

// NewAuditKey returns the handler for one verifier key.
func NewAuditKey(key string) *AuditKey { return &AuditKey{key: key} }

// Show serves the key as text, one line, cacheable for a while.
func (h *AuditKey) Show(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.String(http.StatusOK, h.key+"\n")
}
