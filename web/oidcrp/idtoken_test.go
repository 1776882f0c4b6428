package oidcrp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/url"
	"slices"
	"testing"
	"time"
)

// These tests use tokenServer to hand the RP ID tokens that a correct IdP
// would not issue, and check each is refused with the right error.

const tsClient = "portal"

func newTokenRP(t *testing.T, ts *tokenServer, now time.Time) *RP {
	t.Helper()
	rp, err := New(context.Background(), Config{
		Issuer: ts.srv.URL, ClientID: tsClient, ClientSecret: "secret-secret-secret",
		RedirectURL: "http://portal.test/cb", HTTPClient: ts.srv.Client(),
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

func TestIDTokenChecks(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rp := newTokenRP(t, ts, now)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}

	// good returns claims that pass every check for pending p.
	good := func(p Pending) map[string]any {
		return map[string]any{
			"iss": ts.srv.URL, "sub": "user-1", "aud": tsClient, "azp": tsClient,
			"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(),
			"auth_time": now.Add(-time.Minute).Unix(), "nonce": p.Nonce,
			"acr": "urn:acr:mfa", "amr": []string{"pwd", "otp"},
			"groups": []string{"sre"}, "name": "User One",
		}
	}
	strict := AuthOptions{MaxAge: dur(5 * time.Minute), ACRValues: []string{"urn:acr:mfa"}}

	tests := []struct {
		name   string
		opts   AuthOptions
		mutate func(c map[string]any)
		forge  bool // sign with a key the JWKS does not hold
		want   error
	}{
		{name: "valid", opts: strict, mutate: func(map[string]any) {}},
		{name: "expired", opts: strict, mutate: func(c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() }, want: ErrTokenExpired},
		{name: "forged signature", opts: strict, mutate: func(map[string]any) {}, forge: true, want: ErrIDToken},
		{name: "other issuer", opts: strict, mutate: func(c map[string]any) { c["iss"] = "https://evil.example" }, want: ErrIDToken},
		{name: "other audience", opts: strict, mutate: func(c map[string]any) { c["aud"] = "other-app"; c["azp"] = "other-app" }, want: ErrAudience},
		{name: "azp of another client", opts: strict, mutate: func(c map[string]any) { c["azp"] = "other-app" }, want: ErrAudience},
		{name: "several audiences without azp", opts: strict, mutate: func(c map[string]any) { c["aud"] = []string{tsClient, "api"}; delete(c, "azp") }, want: ErrAudience},
		{name: "several audiences with our azp", opts: strict, mutate: func(c map[string]any) { c["aud"] = []string{tsClient, "api"} }},
		{name: "single audience without azp", opts: strict, mutate: func(c map[string]any) { delete(c, "azp") }},
		{name: "wrong nonce", opts: strict, mutate: func(c map[string]any) { c["nonce"] = "replayed" }, want: ErrNonceMismatch},
		{name: "no nonce", opts: strict, mutate: func(c map[string]any) { delete(c, "nonce") }, want: ErrNonceMismatch},
		{name: "max_age asked, no auth_time", opts: strict, mutate: func(c map[string]any) { delete(c, "auth_time") }, want: ErrStaleAuth},
		{name: "no auth_time, max_age not asked", opts: AuthOptions{}, mutate: func(c map[string]any) { delete(c, "auth_time") }},
		{name: "auth_time too old", opts: strict, mutate: func(c map[string]any) { c["auth_time"] = now.Add(-6 * time.Minute).Unix() }, want: ErrStaleAuth},
		{name: "auth_time within skew of max_age", opts: strict, mutate: func(c map[string]any) { c["auth_time"] = now.Add(-5*time.Minute - 20*time.Second).Unix() }},
		{name: "auth_time in the future", opts: strict, mutate: func(c map[string]any) { c["auth_time"] = now.Add(2 * time.Minute).Unix() }, want: ErrStaleAuth},
		{name: "acr not asked for", opts: strict, mutate: func(c map[string]any) { c["acr"] = "urn:acr:pwd" }, want: ErrWeakACR},
		{name: "no acr", opts: strict, mutate: func(c map[string]any) { delete(c, "acr") }, want: ErrWeakACR},
		{name: "issued in the future", opts: strict, mutate: func(c map[string]any) { c["iat"] = now.Add(10 * time.Minute).Unix() }, want: ErrIDToken},
		{name: "no sub", opts: strict, mutate: func(c map[string]any) { delete(c, "sub") }, want: ErrIDToken},
		{name: "groups of wrong type", opts: strict, mutate: func(c map[string]any) { c["groups"] = 42 }, want: ErrIDToken},
		{name: "acr of wrong type", opts: strict, mutate: func(c map[string]any) { c["acr"] = []string{"urn:acr:mfa"} }, want: ErrIDToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, pending := mustBegin(t, rp, tc.opts)
			claims := good(pending)
			tc.mutate(claims)
			id, err := completeWith(t, ts, rp, pending, claims, tc.forge, otherKey)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if id.Subject != "user-1" || !slices.Equal(id.Groups, []string{"sre"}) {
					t.Errorf("identity = %+v", id)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// completeWith makes the token server issue claims (signed with forgeKey
// when forge is set) and runs Complete with a matching callback.
func completeWith(t *testing.T, ts *tokenServer, rp *RP, pending Pending, claims map[string]any, forge bool, forgeKey *rsa.PrivateKey) (*Identity, error) {
	t.Helper()
	ts.mu.Lock()
	ts.signer = ts.key
	if forge {
		ts.signer = forgeKey
	}
	ts.mu.Unlock()
	ts.issue(claims)
	return rp.Complete(context.Background(), pending, url.Values{"state": {pending.State}, "code": {"test-code"}})
}

func TestCallbackChecksBeforeExchange(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rp := newTokenRP(t, ts, now)
	ctx := context.Background()
	_, pending := mustBegin(t, rp, AuthOptions{})

	tests := []struct {
		name  string
		query url.Values
		want  error
	}{
		{"idp error", url.Values{"state": {pending.State}, "error": {"access_denied"}, "error_description": {"user said no"}}, ErrIdP},
		{"idp error with forged state", url.Values{"state": {"forged"}, "error": {"access_denied"}}, ErrStateMismatch},
		{"iss of another provider", url.Values{"state": {pending.State}, "code": {"test-code"}, "iss": {"https://evil.example"}}, ErrIssuerMismatch},
		{"no code", url.Values{"state": {pending.State}}, ErrExchange},
		{"code refused by the token endpoint", url.Values{"state": {pending.State}, "code": {"wrong-code"}}, ErrExchange},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rp.Complete(ctx, pending, tc.query)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}

	var idpErr *IdPError
	_, err := rp.Complete(ctx, pending, tests[0].query)
	if !errors.As(err, &idpErr) || idpErr.Code != "access_denied" || idpErr.Description != "user said no" {
		t.Errorf("IdPError = %#v", idpErr)
	}
}

func TestPendingExpires(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t)
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	_, pending := mustBegin(t, newTokenRP(t, ts, start), AuthOptions{})
	later := newTokenRP(t, ts, start.Add(11*time.Minute))
	_, err := later.Complete(context.Background(), pending, url.Values{"state": {pending.State}, "code": {"test-code"}})
	if !errors.Is(err, ErrPendingExpired) {
		t.Errorf("err = %v, want ErrPendingExpired", err)
	}
}

func TestRolesClaim(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, claim string
		value       any
		key         string
		want        []string
	}{
		{"array", "groups", []string{"sre", "oncall"}, "groups", []string{"sre", "oncall"}},
		{"single string", "groups", "sre", "groups", []string{"sre"}},
		{"absent", "groups", nil, "", nil},
		{"url-named claim", "https://countersign.example/roles", []string{"approver"}, "https://countersign.example/roles", []string{"approver"}},
		{"nested path", "realm_access.roles", map[string]any{"roles": []string{"approver"}}, "realm_access", []string{"approver"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rp, err := New(context.Background(), Config{
				Issuer: ts.srv.URL, ClientID: tsClient, ClientSecret: "secret-secret-secret",
				RedirectURL: "http://portal.test/cb", HTTPClient: ts.srv.Client(), RolesClaim: tc.claim,
				Now: func() time.Time { return now },
			})
			if err != nil {
				t.Fatal(err)
			}
			_, pending := mustBegin(t, rp, AuthOptions{})
			claims := map[string]any{"iss": ts.srv.URL, "sub": "u", "aud": tsClient, "exp": now.Add(time.Minute).Unix(), "nonce": pending.Nonce}
			if tc.key != "" {
				claims[tc.key] = tc.value
			}
			id, err := completeWith(t, ts, rp, pending, claims, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(id.Groups, tc.want) {
				t.Errorf("groups = %q, want %q", id.Groups, tc.want)
			}
			if id.RolesClaim != tc.claim || id.RolesClaimPresent != (tc.key != "") {
				t.Errorf("roles claim %q present %v", id.RolesClaim, id.RolesClaimPresent)
			}
		})
	}
}

func TestEndSessionURLNotAdvertised(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t)
	rp := newTokenRP(t, ts, time.Now())
	if u, ok := rp.EndSessionURL("hint", "http://portal.test/bye"); ok || u != "" {
		t.Errorf("EndSessionURL = %q, %v; want nothing when the IdP has no end_session_endpoint", u, ok)
	}
}
