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
	// ChainHead is the number of events in the log.
	ChainHead(ctx context.Context) (int64, error)
}

// IntegrityOptions configures the integrity page.
type IntegrityOptions struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CheckpointInterval is how often the server signs the log head
	// (audit.checkpoint_interval), to say when the events not yet signed
	// will be; zero leaves that out.
	CheckpointInterval time.Duration
}

// Integrity shows whether the live audit log still matches its latest
// signed checkpoint. Checkpoints and the verifier key are meant for third
// parties, so every signed-in person may see the page.
type Integrity struct {
	checker IntegrityChecker
	now     func() time.Time
	every   time.Duration
}

// NewIntegrity returns the integrity page.
func NewIntegrity(checker IntegrityChecker, opts IntegrityOptions) *Integrity {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Integrity{checker: checker, now: now, every: opts.CheckpointInterval}
}

// Show serves GET /audit/integrity.
func (h *Integrity) Show(c echo.Context) error {
	if _, err := signedIn(c); err != nil {
		return err
	}
	v := pages.IntegrityView{State: "ok", VerifierKey: h.checker.VerifierKey()}
	ctx := c.Request().Context()
	cp, err := h.checker.VerifyLatest(ctx)
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
		head, err := h.checker.ChainHead(ctx)
		if err != nil {
			return fmt.Errorf("integrity: %w", err)
		}
		if head > cp.Size {
			v.Unsigned = head - cp.Size
		}
		if next := proof.NextCheckpoint(cp.CreatedAt, h.every, now); !next.IsZero() {
			v.NextCheckpoint = timeView(next, now)
		}
		v.Interval = durationWords(h.every)
	}
	return Render(c, http.StatusOK, pages.Integrity(v))
}

// durationWords is a configured interval for people: "10 min", "90 s",
// "2 h", "1 h 30 min"; "" for zero.
func durationWords(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Minute || d%time.Minute != 0 && d < 10*time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Round(time.Minute)/time.Minute))
	case d%time.Hour == 0:
		return fmt.Sprintf("%d h", int(d/time.Hour))
	default:
		return fmt.Sprintf("%d h %d min", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
}
