// Package oidcrp holds the OpenID Connect relying-party protocol pieces the
// portal needs: discovery, the authorization request (state, nonce, PKCE
// S256, prompt, max_age, acr_values, the claims parameter), the callback
// (state, code exchange, ID token verification, nonce, azp, auth_time and
// acr checks) and RP-initiated logout.
//
// It keeps no HTTP session of its own: Begin returns a Pending value that
// the portal stores server-side in the browser's session and hands back to
// Complete. Every failure is one of the sentinel errors in errors.go, so the
// portal maps them to pages and audit events in one place.
//
// Whether an authentication is fresh and strong enough for a decision is
// the approval service's rule (approval.StepUpRule), not this package's:
// here an answer is only checked against what was asked (max_age,
// acr_values).
package oidcrp
