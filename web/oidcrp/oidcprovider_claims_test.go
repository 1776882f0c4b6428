package oidcrp_test

import (
	"slices"
	"testing"

	"github.com/countersign/countersign/web/oidcrp"
	"github.com/countersign/countersign/web/oidcrp/oidcpeer"
	"github.com/countersign/countersign/web/session"
)

// Providers that keep claims out of the ID token: at userinfo, or amr
// only when the claims parameter asks for it.

// TestUserinfoOnlyClaimsAreRead: a provider that follows the
// specification's default placement (conformIdTokenClaims) sends profile
// and group claims only at userinfo. The relying party asks userinfo with
// the login's access token, so the person has a username and groups; the
// authentication claims stay the ID token's.
func TestUserinfoOnlyClaimsAreRead(t *testing.T) {
	t.Parallel()
	cfg := opConfig()
	cfg.ConformIDTokenClaims = true
	p := oidcpeer.Start(t, cfg)
	rp := opPortal(t, p, nil)

	p.NextLogin(aliceSub, acrPassword, []string{"pwd"}, 0)
	id := opLogin(t, oidcpeer.NewBrowser(), rp, oidcrp.AuthOptions{})
	raw := oidcrp.JWTPart(t, id.RawIDToken, 1)
	for _, k := range []string{"preferred_username", "groups"} {
		if _, ok := raw[k]; ok {
			t.Errorf("ID token carries %s although the provider conforms (claims at userinfo only)", k)
		}
	}
	if id.Subject != aliceSub || id.PreferredUsername != "alice" || !slices.Equal(id.Groups, []string{"approvers", "sre"}) || !slices.Equal(id.AMR, []string{"pwd"}) {
		t.Errorf("identity sub %q username %q groups %q amr %q, want alice's from userinfo", id.Subject, id.PreferredUsername, id.Groups, id.AMR)
	}
	if !slices.Contains(id.FromUserinfo, "preferred_username") || !slices.Contains(id.FromUserinfo, "groups") {
		t.Errorf("claims from userinfo %q", id.FromUserinfo)
	}
	u, err := (session.Mapping{Roles: map[string][]string{"approvers": {"approver"}}}).User(id)
	if err != nil || u.Username != "alice" || !slices.Equal(u.Roles, []string{"approver"}) {
		t.Errorf("session mapping: %+v %v", u, err)
	}
}

// TestAMROnlyOnRequestIsAskedFor: a provider that sends amr only when the
// claims parameter asks for it. With RequestAMR (set when the step-up
// rule needs a method) the two-factor login's amr arrives; without it,
// it does not — which is why the portal asks.
func TestAMROnlyOnRequestIsAskedFor(t *testing.T) {
	t.Parallel()
	cfg := opConfig()
	cfg.AMROnlyOnRequest = true
	p := oidcpeer.Start(t, cfg)
	rp := opPortal(t, p, nil)

	p.NextLogin(aliceSub, acrMFA, []string{"pwd", "otp"}, 0)
	id := opLogin(t, oidcpeer.NewBrowser(), rp, oidcrp.AuthOptions{RequestAMR: true})
	if !slices.Equal(id.AMR, []string{"pwd", "otp"}) {
		t.Errorf("amr %q, want the login's methods (asked through the claims parameter)", id.AMR)
	}
	p.NextLogin(aliceSub, acrMFA, []string{"pwd", "otp"}, 0)
	if id := opLogin(t, oidcpeer.NewBrowser(), rp, oidcrp.AuthOptions{}); id.AMR != nil {
		t.Errorf("amr %q without asking: the provider should not send it, or this test proves nothing", id.AMR)
	}
}
