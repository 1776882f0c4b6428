package oidcrp

import (
	"fmt"
	"slices"
	"time"
)

// checkFreshness requires auth_time, not after now+skew and not older
// than maxAge+skew: an ID token answering a request with max_age must
// show that the provider honoured it (OpenID Connect Core 3.1.2.1).
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
