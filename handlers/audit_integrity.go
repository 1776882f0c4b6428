package handlers

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/templates/pages"
)

// IntegrityChecker is what the integrity page needs: the cached check
// (*proof.IntegrityCache) or the checkpointer itself.
type IntegrityChecker interface {
	VerifyLatest(ctx context.Context) (*proof.Checkpoint, error)
	VerifierKey() string
}

// Integrity shows whether the live audit log still matches its latest
// signed checkpoint. Checkpoints and the verifier key are meant for third
// parties, so every signed-in person may see the page.
type Integrity struct {
	checker IntegrityChecker
	now     func() time.Time
}

// NewIntegrity returns the integrity page; now may be nil for the wall clock.
func NewIntegrity(checker IntegrityChecker, now func() time.Time) *Integrity {
	if now == nil {
		now = time.Now
	}
	return &Integrity{checker: checker, now: now}
}

// Show serves GET /audit/integrity.
func (h *Integrity) Show(c echo.Context) error {
	if _, err := signedIn(c); err != nil {
		return err
	}
	v := pages.IntegrityView{State: "ok", VerifierKey: h.checker.VerifierKey()}
	cp, err := h.checker.VerifyLatest(c.Request().Context())
	var problem *audit.Problem
	switch {
	case errors.Is(err, models.ErrNotFound):
		v.State = "none"
		return Render(c, http.StatusOK, pages.Integrity(v))
	case errors.As(err, &problem):
		v.State, v.Problem = "mismatch", problem.Error()
	case errors.Is(err, proof.ErrIntegrityPending):
		// The stored tree state is behind; it is being caught up off the
		// request path, and the page says so rather than wait for it.
		v.State = "pending"
	case err != nil:
		return fmt.Errorf("integrity: %w", err)
	}
	if cp != nil {
		now := h.now()
		v.Origin, v.Size, v.Root, v.Note = cp.Origin, cp.Size, base64.StdEncoding.EncodeToString(cp.Root), cp.Note
		t := timeView(cp.CreatedAt, now)
		v.Signed, v.SignedAgo = t.UTC, t.Relative
	}
	return Render(c, http.StatusOK, pages.Integrity(v))
}
