package oidcrp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/countersign/countersign/web/oidcrp"
	"github.com/countersign/countersign/web/oidcrp/oidcpeer"
	"github.com/countersign/countersign/web/session"
)

// These tests record what today's relying party does with providers that
// keep claims out of the ID token. They assert the current behaviour so
// that a change to it is seen; the main developer is adding the userinfo
// merge and amr through the claims parameter to web/oidcrp, and these
// tests are to be turned around with that work.

// TestUserinfoOnlyClaimsAreNotReadYet: a provider that conforms to the
// spec's default serves profile and groups at userinfo only. The RP reads
// the ID token alone, so the person has no username and no groups, and the
// session refuses to sign them in.
func TestUserinfoOnlyClaimsAreNotReadYet(t *testing.T) {
	t.Parallel()
	cfg := opConfig()
	cfg.ConformIDTokenClaims = true
	p := oidcpeer.Start(t, cfg)
	tokens := &tokenReplay{}
	rp := opPortal(t, p, &http.Client{Transport: tokens, Timeout: 10 * time.Second})

	p.NextLogin(aliceSub, acrPassword, []string{"pwd"}, 0)
	id := opLogin(t, oidcpeer.NewBrowser(), rp, oidcrp.AuthOptions{})
	if id.Subject != aliceSub || !slices.Equal(id.AMR, []string{"pwd"}) {
		t.Errorf("sub %q amr %q: the ID token's own claims should still be read", id.Subject, id.AMR)
	}
	raw := jwtPart(t, id.RawIDToken, 1)
	for _, k := range []string{"preferred_username", "name", "email", "groups"} {
		if _, ok := raw[k]; ok {
			t.Errorf("ID token carries %s although the provider conforms (claims at userinfo only)", k)
		}
	}
	if id.PreferredUsername != "" || id.Name != "" || id.Email != "" || id.Groups != nil {
		t.Errorf("identity has %q %q %q %q; today the RP does not ask userinfo", id.PreferredUsername, id.Name, id.Email, id.Groups)
	}
	if _, err := (session.Mapping{}).User(id); !errors.Is(err, session.ErrNoUsername) {
		t.Errorf("session mapping: err = %v, want ErrNoUsername (until userinfo is merged)", err)
	}

	// The claims are there, at userinfo, for the access token the RP got.
	var resp struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(tokens.last(), &resp); err != nil || resp.AccessToken == "" {
		t.Fatalf("token response without access_token: %v", err)
	}
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: resp.AccessToken}))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var claims struct {
		PreferredUsername string   `json:"preferred_username"`
		Groups            []string `json:"groups"`
	}
	if err := info.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if info.Subject != aliceSub || claims.PreferredUsername != "alice" || !slices.Equal(claims.Groups, []string{"approvers", "sre"}) {
		t.Errorf("userinfo: sub %q username %q groups %q, want alice's", info.Subject, claims.PreferredUsername, claims.Groups)
	}
}

// TestAMROnlyOnRequestIsNotAskedForYet: a provider that sends amr only
// when the claims parameter asks for it. Today the RP asks only for acr
// there, so the identity has no amr although the login used two factors.
func TestAMROnlyOnRequestIsNotAskedForYet(t *testing.T) {
	t.Parallel()
	cfg := opConfig()
	cfg.AMROnlyOnRequest = true
	p := oidcpeer.Start(t, cfg)
	rp := opPortal(t, p, nil)

	p.NextLogin(aliceSub, acrMFA, []string{"pwd", "otp"}, 0)
	id := opLogin(t, oidcpeer.NewBrowser(), rp, oidcrp.AuthOptions{ACRValues: []string{acrMFA}, EssentialACR: true})
	if id.ACR != acrMFA {
		t.Errorf("acr %q, want %q (asked through the claims parameter)", id.ACR, acrMFA)
	}
	if id.AMR != nil {
		t.Errorf("amr %q; today the RP does not ask for amr, so the provider should not send it", id.AMR)
	}
	if id.PreferredUsername != "alice" || !slices.Equal(id.Groups, []string{"approvers", "sre"}) {
		t.Errorf("username %q groups %q", id.PreferredUsername, id.Groups)
	}
}
