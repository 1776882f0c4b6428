package oidcrp_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/web/oidcrp"
	"github.com/countersign/countersign/web/oidcrp/oidcpeer"
)

// The portal as a client of the real provider (oidc-provider), and the
// people there. The redirect URIs are never requested: the test browser
// stops at them.
const (
	opClientID     = "countersign-portal"
	opClientSecret = "portal-secret-0123456789-abcdefghij"
	opRedirect     = "http://portal.test/auth/callback"
	opLoggedOut    = "http://portal.test/logged-out"

	aliceSub = "7c1d5e0a-alice"
	bobSub   = "0b6f3d2c-bob"

	acrPassword = "urn:countersign:acr:pwd"
	acrMFA      = "urn:countersign:acr:mfa"
)

// aliceClaims and bobClaims are fresh maps, so a test may change its own.
func aliceClaims() map[string]any {
	return map[string]any{
		"preferred_username": "alice",
		"name":               "Alice Approver",
		"email":              "alice@example.test",
		"email_verified":     true,
		"groups":             []string{"approvers", "sre"},
	}
}

func bobClaims() map[string]any {
	return map[string]any{
		"preferred_username": "bob",
		"name":               "Bob Builder",
		"email":              "bob@example.test",
		"groups":             []string{"dev"},
	}
}

// opConfig is a provider with the portal as client, alice and bob as
// people, claims in the ID token and the two acr values; tests change
// what their case needs.
func opConfig() oidcpeer.Config {
	return oidcpeer.Config{
		Clients: []oidcpeer.Client{{
			ID: opClientID, Secret: opClientSecret,
			RedirectURIs:           []string{opRedirect},
			PostLogoutRedirectURIs: []string{opLoggedOut},
		}},
		Accounts: []oidcpeer.Account{
			{Subject: aliceSub, Claims: aliceClaims()},
			{Subject: bobSub, Claims: bobClaims()},
		},
		ACRValues: []string{acrPassword, acrMFA},
	}
}

// opPortal is the portal's relying party at the provider, as the portal
// configures it.
func opPortal(t *testing.T, p *oidcpeer.Peer, client *http.Client) *oidcrp.RP {
	t.Helper()
	rp, err := oidcrp.New(context.Background(), oidcrp.Config{
		Issuer:       p.Issuer(),
		ClientID:     opClientID,
		ClientSecret: opClientSecret,
		RedirectURL:  opRedirect,
		Scopes:       []string{"openid", "profile", "email", "groups"},
		HTTPClient:   client,
	})
	if err != nil {
		t.Fatalf("oidcrp.New: %v", err)
	}
	return rp
}

func opLogin(t *testing.T, b *oidcpeer.Browser, rp *oidcrp.RP, opts oidcrp.AuthOptions) *oidcrp.Identity {
	t.Helper()
	id, err := b.Login(context.Background(), rp, opts)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return id
}

func kidOf(t *testing.T, jwt string) string {
	t.Helper()
	kid, _ := oidcrp.JWTPart(t, jwt, 0)["kid"].(string)
	return kid
}

// within reports whether got is want give or take a few seconds (the
// provider's clock and ours are the same machine's, in whole seconds).
func within(got, want time.Time) bool {
	d := got.Sub(want)
	return d > -3*time.Second && d < 3*time.Second
}

// tokenReplay is the RP's transport to the provider. It records the token
// endpoint's answers and, once armed, answers the next token request with
// a recorded one instead of asking the provider: a token response replayed
// by someone on the path, or a cache, after the provider rotated its keys.
type tokenReplay struct {
	mu       sync.Mutex
	recorded [][]byte
	replay   []byte
}

func (r *tokenReplay) RoundTrip(req *http.Request) (*http.Response, error) {
	isToken := req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/token")
	r.mu.Lock()
	replay := r.replay
	if isToken {
		r.replay = nil
	}
	r.mu.Unlock()
	if isToken && replay != nil {
		return &http.Response{
			StatusCode: http.StatusOK,
			Header:     http.Header{"Content-Type": {"application/json"}},
			Body:       io.NopCloser(bytes.NewReader(replay)),
			Request:    req,
		}, nil
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || !isToken {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.recorded = append(r.recorded, body)
	r.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// last is the most recent recorded token response.
func (r *tokenReplay) last() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recorded[len(r.recorded)-1]
}

// arm makes the next token request answer with body.
func (r *tokenReplay) arm(body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.replay = body
}
