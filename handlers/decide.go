package handlers

import (
	"log/slog"
	"time"

	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/web/session"
)

// DecisionsConfig is the decision flow's configuration.
type DecisionsConfig struct {
	// Now is the clock for freshness checks; nil means time.Now.
	Now func() time.Time
	// Logger receives decisions and refusals (never tokens). Nil discards.
	Logger *slog.Logger
}

// Decisions serves POST /requests/:id/decision and completes the
// decisions whose step-up returns through the sign-in callback. It makes
// two calls into the approval service, which holds every rule:
// PrepareDecision (visibility, the pre-check, the conversation read again,
// the step-up rule) and Decide.
type Decisions struct {
	svc      *approval.Service
	rp       RelyingParty
	sessions *session.Manager
	now      func() time.Time
	log      *slog.Logger
}

// NewDecisions returns the decision handlers.
func NewDecisions(svc *approval.Service, rp RelyingParty, sessions *session.Manager, cfg DecisionsConfig) *Decisions {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Decisions{svc: svc, rp: rp, sessions: sessions, now: now, log: loggerOr(cfg.Logger)}
}
