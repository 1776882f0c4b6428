package oidcrp

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Complete finishes a login from the callback's query string and the
// Pending saved by Begin. It returns an Identity only when every check
// passed: state, the IdP's answer, the code exchange with the PKCE
// verifier, the ID token (signature, issuer, expiry, audience, azp,
// nonce), and, when Begin asked for them, auth_time within MaxAge and an
// acr among ACRValues.
func (rp *RP) Complete(ctx context.Context, pending Pending, query url.Values) (*Identity, error) {
	now := rp.cfg.Now()
	if pending.State == "" || pending.Nonce == "" || pending.Verifier == "" {
		return nil, fmt.Errorf("%w: no login in progress", ErrStateMismatch)
	}
	if now.Sub(pending.IssuedAt) > rp.cfg.PendingTTL || pending.IssuedAt.After(now.Add(rp.cfg.ClockSkew)) {
		return nil, fmt.Errorf("%w: started at %s", ErrPendingExpired, pending.IssuedAt.UTC().Format("15:04:05Z"))
	}
	// State first: an error response with a wrong state is as forged as
	// a code with one.
	if subtle.ConstantTimeCompare([]byte(query.Get("state")), []byte(pending.State)) != 1 {
		return nil, ErrStateMismatch
	}
	if iss := query.Get("iss"); iss != "" && iss != rp.cfg.Issuer {
		return nil, fmt.Errorf("%w: callback names issuer %q", ErrIssuerMismatch, iss)
	}
	if code := query.Get("error"); code != "" {
		return nil, &IdPError{Code: code, Description: query.Get("error_description")}
	}
	code := query.Get("code")
	if code == "" {
		return nil, fmt.Errorf("%w: callback carries no code", ErrExchange)
	}
	ctx = oidc.ClientContext(ctx, rp.cfg.HTTPClient)
	tok, err := rp.oauth.Exchange(ctx, code, oauth2.VerifierOption(pending.Verifier))
	if err != nil {
		return nil, exchangeError(err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return nil, fmt.Errorf("%w: token response has no id_token", ErrIDToken)
	}
	return rp.verifyIDToken(ctx, raw, tok, pending)
}

// exchangeError keeps the OAuth error code of a refused exchange (useful
// in logs) without the response body.
func exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode != "" {
			return fmt.Errorf("%w: token endpoint answered %s", ErrExchange, re.ErrorCode)
		}
		if re.Response != nil {
			return fmt.Errorf("%w: token endpoint answered HTTP %d", ErrExchange, re.Response.StatusCode)
		}
	}
	return fmt.Errorf("%w: %w", ErrExchange, err)
}

// verifyIDToken runs every ID token check, completes the claims from
// userinfo when the ID token leaves out some the portal reads, and builds
// the Identity. tok is the token response (its access token calls
// userinfo).
func (rp *RP) verifyIDToken(ctx context.Context, raw string, tok *oauth2.Token, pending Pending) (*Identity, error) {
	now := rp.cfg.Now()
	idt, err := rp.verifierAt(ctx, now).Verify(ctx, raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		if errors.As(err, &expired) {
			return nil, fmt.Errorf("%w: expired at %s", ErrTokenExpired, expired.Expiry.UTC().Format("2006-01-02T15:04:05Z"))
		}
		return nil, fmt.Errorf("%w: %w", ErrIDToken, err)
	}
	var all map[string]json.RawMessage
	if err := idt.Claims(&all); err != nil {
		return nil, fmt.Errorf("%w: decode claims: %w", ErrIDToken, err)
	}
	c, err := parseClaims(all, idt.Subject, rp.cfg.RolesClaim)
	if err != nil {
		return nil, err
	}
	if err := checkAudience(idt.Audience, c.azp, rp.cfg.ClientID); err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(pending.Nonce)) != 1 {
		return nil, ErrNonceMismatch
	}
	if c.subject == "" {
		return nil, fmt.Errorf("%w: no sub claim", ErrIDToken)
	}
	if !c.issuedAt.IsZero() && c.issuedAt.After(now.Add(rp.cfg.ClockSkew)) {
		return nil, fmt.Errorf("%w: issued in the future", ErrIDToken)
	}
	if pending.Options.MaxAge != nil && !pending.Options.Advisory {
		if err := checkFreshness(c.authTime, *pending.Options.MaxAge, now, rp.cfg.ClockSkew); err != nil {
			return nil, err
		}
	}
	if len(pending.Options.ACRValues) > 0 && !pending.Options.Advisory {
		if err := checkACR(c.acr, pending.Options.ACRValues); err != nil {
			return nil, err
		}
	}
	// Only a token that passed every check above may fetch userinfo.
	added, err := rp.userinfo(ctx, tok, c.subject, all)
	if err != nil {
		return nil, err
	}
	if len(added) > 0 {
		// The authentication claims stay the ID token's: userinfo never
		// adds them (idTokenOnly).
		if c, err = parseClaims(all, idt.Subject, rp.cfg.RolesClaim); err != nil {
			return nil, err
		}
	}
	return c.identity(idt.Issuer, raw, all, added), nil
}

// checkAudience requires this client in aud, an azp equal to it when azp
// is present, and an azp when there are several audiences (OIDC Core
// 3.1.3.7, steps 3 to 5).
func checkAudience(aud []string, azp, clientID string) error {
	found := false
	for _, a := range aud {
		if a == clientID {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("%w: aud %q", ErrAudience, aud)
	}
	if len(aud) > 1 && azp == "" {
		return fmt.Errorf("%w: several audiences and no azp", ErrAudience)
	}
	if azp != "" && azp != clientID {
		return fmt.Errorf("%w: azp %q", ErrAudience, azp)
	}
	return nil
}
