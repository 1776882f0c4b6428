package oidcrp

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package matches exactly
// one of them with errors.Is, so the portal can map them once.
var (
	// ErrConfig means the Config (or the AuthOptions) cannot work.
	ErrConfig = errors.New("oidcrp: invalid configuration")
	// ErrDiscovery means the issuer's discovery document could not be
	// fetched or does not match the configured issuer.
	ErrDiscovery = errors.New("oidcrp: provider discovery failed")
	// ErrStateMismatch means the callback's state is not the one this
	// browser's pending login expects (forged or crossed callback, or no
	// login in progress).
	ErrStateMismatch = errors.New("oidcrp: state mismatch")
	// ErrPendingExpired means the login was started too long ago.
	ErrPendingExpired = errors.New("oidcrp: login attempt expired")
	// ErrIssuerMismatch means the callback's iss parameter (RFC 9207)
	// names another provider: an IdP mix-up attempt.
	ErrIssuerMismatch = errors.New("oidcrp: issuer mismatch")
	// ErrIdP means the provider answered with an error parameter; the
	// *IdPError carries its code.
	ErrIdP = errors.New("oidcrp: identity provider returned an error")
	// ErrExchange means the token endpoint refused the code (wrong PKCE
	// verifier, reused or expired code, bad client credentials) or no
	// code came back.
	ErrExchange = errors.New("oidcrp: code exchange failed")
	// ErrIDToken means the ID token is missing or invalid (signature,
	// issuer, malformed claims).
	ErrIDToken = errors.New("oidcrp: invalid ID token")
	// ErrUserinfo means the userinfo endpoint, asked for claims the ID
	// token left out, failed or answered about another subject.
	ErrUserinfo = errors.New("oidcrp: userinfo could not be read")
	// ErrTokenExpired means the ID token's exp has passed.
	ErrTokenExpired = errors.New("oidcrp: ID token expired")
	// ErrAudience means the ID token was not issued to this client (aud
	// or azp).
	ErrAudience = errors.New("oidcrp: ID token not issued to this client")
	// ErrNonceMismatch means the ID token answers another login attempt
	// (replayed or injected token).
	ErrNonceMismatch = errors.New("oidcrp: nonce mismatch")
	// ErrStaleAuth means the authentication is older than max_age, has no
	// auth_time although max_age was asked, or lies in the future.
	ErrStaleAuth = errors.New("oidcrp: authentication not fresh enough")
	// ErrWeakACR means the acr returned is not one of those asked for.
	ErrWeakACR = errors.New("oidcrp: authentication context class not accepted")
	// ErrWeakAMR means none of the wanted authentication methods was used.
	ErrWeakAMR = errors.New("oidcrp: authentication methods not accepted")
)

// IdPError is the provider's error response at the redirect URI (for
// example login_required after prompt=none, or access_denied). Code is
// the OAuth error code. Description comes from the query string: log it,
// but treat it as untrusted text.
type IdPError struct {
	// Code is the OAuth error code, e.g. "login_required".
	Code string
	// Description is error_description as sent; untrusted text.
	Description string
}

// Error implements error.
func (e *IdPError) Error() string {
	if e.Description == "" {
		return fmt.Sprintf("%v: %s", ErrIdP, e.Code)
	}
	return fmt.Sprintf("%v: %s (%s)", ErrIdP, e.Code, e.Description)
}

// Unwrap makes errors.Is(err, ErrIdP) true.
func (e *IdPError) Unwrap() error { return ErrIdP }
