package approval

import (
	"fmt"
	"slices"
	"time"

	"github.com/countersign/countersign/models"
)

// Defaults of the step-up rule.
const (
	// DefaultStepUpMaxAge is how recent the authentication behind a
	// decision must be when neither the portal nor the request says.
	DefaultStepUpMaxAge = 5 * time.Minute
	// DefaultClockSkew is the tolerance between Countersign's clock and the
	// identity provider's, applied once, here, to every freshness check.
	DefaultClockSkew = 30 * time.Second
)

// Step-up refusals. Each matches models.ErrForbidden.
var (
	// ErrStepUpStale: the decision's authentication is older than the
	// rule allows (or carries no time, or one in the future).
	ErrStepUpStale = fmt.Errorf("your sign-in is not recent enough for this request: %w", models.ErrForbidden)
	// ErrStepUpWeak: the authentication class (acr) is not one the rule
	// accepts.
	ErrStepUpWeak = fmt.Errorf("your sign-in is not strong enough for this request: %w", models.ErrForbidden)
	// ErrStepUpWeakAMR: none of the authentication methods (amr) is one
	// the rule asks for (a second factor, a hardware key).
	ErrStepUpWeakAMR = fmt.Errorf("your sign-in did not use a method this request needs: %w", models.ErrForbidden)
)

// StepUpRule is how fresh and how strong the authentication behind a
// decision must be. It is the one rule for every check: the portal asks
// whether a sign-in will do before sending anyone to re-authenticate, and
// Decide applies it again inside its transaction, so a decision the
// portal let through is never refused for its step-up.
type StepUpRule struct {
	// MaxAge bounds the age of the authentication (auth_time).
	MaxAge time.Duration
	// ACR, when set, are the acceptable authentication classes; they are
	// also asked for (acr_values) when the person re-authenticates.
	ACR []string
	// AMRAny, when set, requires at least one of these methods.
	AMRAny []string
	// EssentialACR asks the provider to treat acr as essential (the
	// claims parameter), for providers that only enforce that.
	EssentialACR bool
	// Skew is the clock tolerance; zero means DefaultClockSkew.
	Skew time.Duration
	// Passkey asks that the decision be signed with a passkey (a fresh,
	// user-verified assertion over the decision statement) instead of
	// an IdP step-up.
	Passkey bool
}

// withDefaults fills MaxAge and Skew.
func (r StepUpRule) withDefaults() StepUpRule {
	if r.MaxAge <= 0 {
		r.MaxAge = DefaultStepUpMaxAge
	}
	if r.Skew <= 0 {
		r.Skew = DefaultClockSkew
	}
	r.ACR, r.AMRAny = slices.Clone(r.ACR), slices.Clone(r.AMRAny)
	return r
}

// PasswordOnly reports whether the rule asks for no authentication class
// and no method, so that re-entering a password satisfies it.
func (r StepUpRule) PasswordOnly() bool { return len(r.ACR) == 0 && len(r.AMRAny) == 0 }

// Check reports whether su, presented at now, satisfies the rule: an
// authentication time not later than now+Skew and not older than
// MaxAge+Skew, an acr among ACR (when set) and an amr among AMRAny (when
// set).
func (r StepUpRule) Check(su StepUp, now time.Time) error {
	r = r.withDefaults()
	if err := r.checkFresh(su.AuthTime, now); err != nil {
		return err
	}
	switch {
	case len(r.ACR) > 0 && !slices.Contains(r.ACR, su.ACR):
		return fmt.Errorf("acr %q, want one of %q: %w", su.ACR, r.ACR, ErrStepUpWeak)
	case len(r.AMRAny) > 0 && !slices.ContainsFunc(su.AMR, func(m string) bool { return slices.Contains(r.AMRAny, m) }):
		return fmt.Errorf("amr %q has none of %q: %w", su.AMR, r.AMRAny, ErrStepUpWeakAMR)
	}
	return nil
}

// checkFresh is the rule's freshness alone: an authentication at at,
// presented at now, not later than now+Skew and not older than
// MaxAge+Skew. r has its defaults. A passkey signature's authentication is
// the moment its statement was issued.
func (r StepUpRule) checkFresh(at, now time.Time) error {
	switch {
	case at.IsZero():
		return fmt.Errorf("no authentication time: %w", ErrStepUpStale)
	case at.After(now.Add(r.Skew)):
		return fmt.Errorf("authentication time %s is in the future: %w", at.UTC().Format(time.RFC3339), ErrStepUpStale)
	case now.Sub(at) > r.MaxAge+r.Skew:
		return fmt.Errorf("authenticated %s ago, at most %s: %w", now.Sub(at).Round(time.Second), r.MaxAge, ErrStepUpStale)
	}
	return nil
}

// CountsUntil is the moment su stops satisfying the rule's freshness: its
// authentication time plus MaxAge (the clock skew the check tolerates is
// not promised to anyone). Pages say it so nobody is promised a sign-in
// that will not happen, or none when it will.
func (r StepUpRule) CountsUntil(su StepUp) time.Time {
	return su.AuthTime.Add(r.withDefaults().MaxAge)
}

// StepUpFor is the rule for deciding r: the portal's (Config.StepUp),
// tightened by the request's own from the policy rule that matched. A
// shorter max_age wins (the portal's stays the ceiling); the request's acr
// values, when set, replace the portal's, because the rule named exactly
// what it accepts.
func (s *Service) StepUpFor(r *models.Request) StepUpRule {
	out := s.cfg.StepUp.withDefaults()
	if r == nil {
		return out
	}
	if r.StepUpMaxAge > 0 && r.StepUpMaxAge < out.MaxAge {
		out.MaxAge = r.StepUpMaxAge
	}
	if len(r.StepUpACR) > 0 {
		out.ACR = slices.Clone(r.StepUpACR)
	}
	out.Passkey = out.Passkey || r.StepUpPasskey
	return out
}
