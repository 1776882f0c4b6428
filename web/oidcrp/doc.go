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
// StepUpSatisfied is the pure freshness/strength rule the portal applies
// before it accepts an approve or deny: authentication within max_age, an
// acceptable acr, and (if configured) one of the wanted amr values.
package oidcrp
