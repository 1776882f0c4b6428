package oidcrp

import (
	"fmt"
	"slices"
	"time"
)

// StepUpSatisfied is the rule the portal applies before it accepts an
// approve or deny: the person authenticated within maxAge of now (auth_time
// present, not in the future), with an acr among acrValues (when any are
// configured) and with at least one amr among amrAny (when any are
// configured). maxAge must be positive: a policy without a freshness bound
// is a configuration error, and this fails closed on it. It is pure (no
// I/O) so the portal and its tests can call it freely.
func (rp *RP) StepUpSatisfied(id *Identity, maxAge time.Duration, acrValues []string, amrAny []string, now time.Time) error {
	if id == nil {
		return fmt.Errorf("%w: no identity", ErrStaleAuth)
	}
	if maxAge <= 0 {
		return fmt.Errorf("%w: step-up needs a positive max age", ErrStaleAuth)
	}
	if err := checkFreshness(id.AuthTime, maxAge, now, rp.cfg.ClockSkew); err != nil {
		return err
	}
	if len(acrValues) > 0 {
		if err := checkACR(id.ACR, acrValues); err != nil {
			return err
		}
	}
	if len(amrAny) > 0 && !slices.ContainsFunc(id.AMR, func(m string) bool { return slices.Contains(amrAny, m) }) {
		return fmt.Errorf("%w: amr %q has none of %q", ErrWeakAMR, id.AMR, amrAny)
	}
	return nil
}

// checkFreshness requires auth_time, not after now+skew and not older
// than maxAge+skew.
func checkFreshness(authTime time.Time, maxAge time.Duration, now time.Time, skew time.Duration) error {
	if authTime.IsZero() {
		return fmt.Errorf("%w: no auth_time", ErrStaleAuth)
	}
	if authTime.After(now.Add(skew)) {
		return fmt.Errorf("%w: auth_time is in the future", ErrStaleAuth)
	}
	if age := now.Sub(authTime); age > maxAge+skew {
		return fmt.Errorf("%w: authenticated %s ago, max %s", ErrStaleAuth, age.Round(time.Second), maxAge)
	}
	return nil
}

// checkACR requires the returned acr to be one of those asked for; an IdP
// may ignore acr_values, so the answer must be checked, not assumed.
func checkACR(acr string, want []string) error {
	if acr == "" || !slices.Contains(want, acr) {
		return fmt.Errorf("%w: acr %q, want one of %q", ErrWeakACR, acr, want)
	}
	return nil
}
