package handlers

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
)

// Decider is what the decision flow needs from the approval service;
// *approval.Service implements it. The rules (who may decide, self- and
// sponsor approval, content binding, N-of-M) live there, not here.
type Decider interface {
	Get(ctx context.Context, id string) (*models.Request, error)
	MayView(r *models.Request, a approval.Approver) bool
	CanDecide(r *models.Request, a approval.Approver, contentHash string) error
	Decide(ctx context.Context, d approval.Decision) (*approval.Outcome, error)
}

// DefaultStepUpMaxAge is how recent an authentication must be for a
// decision when StepUpPolicy.MaxAge is zero.
const DefaultStepUpMaxAge = 5 * time.Minute

// StepUpPolicy says how fresh and how strong the authentication behind
// every approve or deny must be.
type StepUpPolicy struct {
	// MaxAge bounds the age of the authentication (auth_time). Default
	// 5 min.
	MaxAge time.Duration
	// ACRValues, when set, are the acceptable acr values; they are sent as
	// acr_values when the IdP is asked again.
	ACRValues []string
	// AMRAny, when set, requires at least one of these amr values (e.g.
	// "mfa", "otp", "hwk").
	AMRAny []string
	// EssentialACR also sends the claims parameter marking acr essential,
	// for IdPs that only enforce essential claims. Needs ACRValues.
	EssentialACR bool
}

// withDefaults fills MaxAge and copies the slices.
func (p StepUpPolicy) withDefaults() StepUpPolicy {
	if p.MaxAge <= 0 {
		p.MaxAge = DefaultStepUpMaxAge
	}
	p.ACRValues, p.AMRAny = slices.Clone(p.ACRValues), slices.Clone(p.AMRAny)
	return p
}

// DecisionsConfig is the decision flow's configuration.
type DecisionsConfig struct {
	// StepUp is the freshness and strength every decision needs.
	StepUp StepUpPolicy
	// Now is the clock for freshness checks; nil means time.Now.
	Now func() time.Time
	// Logger receives decisions and refusals (never tokens). Nil discards.
	Logger *slog.Logger
	// Rechecker, when set, reads the conversation again before a step-up
	// and again before the decision is recorded.
	Rechecker ConversationRechecker
}

// Decisions serves POST /requests/:id/decision and completes the
// decisions whose step-up returns through the sign-in callback.
type Decisions struct {
	svc      Decider
	rp       RelyingParty
	sessions Sessions
	policy   StepUpPolicy
	now      func() time.Time
	log      *slog.Logger
	// rechecker is nil when Mattermost is not configured.
	rechecker ConversationRechecker
}

// NewDecisions returns the decision handlers.
func NewDecisions(svc Decider, rp RelyingParty, sessions Sessions, cfg DecisionsConfig) *Decisions {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Decisions{svc: svc, rp: rp, sessions: sessions, policy: cfg.StepUp.withDefaults(), now: now, log: log, rechecker: cfg.Rechecker}
}

// requestPath is the portal page of request id.
// requestPath is defined in viewmodel_links.go (shared with the request pages).
