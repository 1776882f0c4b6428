package oidcrp

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"golang.org/x/oauth2"
)

// idTokenOnly are the claims taken from the ID token alone: who issued it
// to whom, for which login, and when and how the person authenticated.
// The userinfo endpoint never supplies or overrides them.
var idTokenOnly = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "iat": true, "nbf": true, "jti": true,
	"nonce": true, "azp": true, "auth_time": true, "acr": true, "amr": true,
	"at_hash": true, "c_hash": true, "s_hash": true, "sid": true,
}

// readClaims are the claims the portal reads: the profile claims it shows,
// the roles claim and the configured extra claims.
func (rp *RP) readClaims() []string {
	return append([]string{"preferred_username", "name", "email", rp.cfg.RolesClaim}, rp.cfg.Claims...)
}

// lacksClaims reports whether the ID token's claims m leave out a claim
// the portal reads. For the code flow the specification places profile
// and group claims at the userinfo endpoint by default, so many providers
// send an ID token with little more than sub.
func (rp *RP) lacksClaims(m map[string]json.RawMessage) bool {
	for _, name := range rp.readClaims() {
		if raw, err := lookupClaim(m, name); err == nil && isAbsent(raw) {
			return true
		}
	}
	return false
}

// userinfo completes the ID token's claims m from the userinfo endpoint,
// called with the login's access token, when m lacks a claim the portal
// reads and the provider has the endpoint. The userinfo response must be
// about the ID token's subject (OIDC Core 5.3.2). It returns the names of
// the claims it added.
func (rp *RP) userinfo(ctx context.Context, tok *oauth2.Token, subject string, m map[string]json.RawMessage) ([]string, error) {
	if !rp.lacksClaims(m) || rp.provider.UserInfoEndpoint() == "" || tok.AccessToken == "" {
		return nil, nil
	}
	info, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUserinfo, err)
	}
	if info.Subject != subject {
		return nil, fmt.Errorf("%w: the userinfo response is about another subject than the ID token", ErrUserinfo)
	}
	var extra map[string]json.RawMessage
	if err := info.Claims(&extra); err != nil {
		return nil, fmt.Errorf("%w: decode claims: %w", ErrUserinfo, err)
	}
	var added []string
	for name, raw := range extra {
		if idTokenOnly[name] || isAbsent(raw) || !isAbsent(m[name]) {
			continue
		}
		m[name] = raw
		added = append(added, name)
	}
	slices.Sort(added)
	return added, nil
}
