package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/countersign/countersign/web/browsertest"
)

// TestBrowserPasskeys drives Chromium, with a virtual authenticator
// (CDP's WebAuthn domain: a CTAP2 platform authenticator that verifies
// the user), through the demo served at localhost: alice enrols a
// passkey, approves a request with it (the statement she signs is shown,
// the decision records and shows the signature), approves the request
// whose policy rule accepts only a passkey, is refused when her
// authenticator does not verify her, and revokes the passkey, after which
// it is no longer offered. Every screenshot runs the accessibility checks.
func TestBrowserPasskeys(t *testing.T) {
	browsertest.Chromium(t)
	d := startDemoAt(t, "localhost:0")
	if !strings.HasPrefix(d.base, "http://localhost:") {
		t.Fatalf("demo at %s, want a localhost URL (passkeys need a host name)", d.base)
	}
	alice := d.person(t, "alice")
	alice.login(t, true)
	ids := alice.actionableIDs(t)
	authID := alice.virtualAuthenticator(t)

	// Enrol.
	if status := alice.navigate(t, "/passkeys"); status != 200 {
		t.Fatalf("/passkeys: %d", status)
	}
	alice.waitFor(t, "passkey-enroll-form")
	browsertest.Screenshot(t, alice.ctx, "passkeys-empty")
	alice.typeInto(t, "#passkey-name", "laptop")
	alice.click(t, `[data-testid="passkey-enroll-button"]`)
	alice.waitFor(t, "passkeys-notice")
	if s := alice.text(t, `[data-testid="passkey-name"]`); s != "laptop" {
		t.Fatalf("enrolled passkey shows as %q; status: %q", s, alice.text(t, `[data-testid="passkey-status"]`))
	}
	browsertest.Screenshot(t, alice.ctx, "passkeys-enrolled")

	// Approve with it.
	alice.open(t, ids["restart"])
	if alice.count(t, `[data-testid="approve-passkey-button"]`) != 1 {
		t.Fatal("the request page offers no passkey approval")
	}
	alice.typeInto(t, "#approve-comment", "Signed with my passkey.")
	// One click, the authenticator's answer (the virtual authenticator
	// verifies alice at once), and the decision is recorded: every
	// exchange stays on the portal, none goes to the identity provider.
	steps := alice.traffic(t, func() {
		alice.click(t, `[data-testid="approve-passkey-button"]`)
		alice.waitFor(t, "decision-notice")
	})
	var sawChallenge, sawDecision bool
	for _, x := range steps {
		if x.Kind == "Document" || x.Kind == "Fetch" {
			t.Logf("approve with passkey: %s", x)
		}
		// The demo serves its identity provider under /idp: a round trip
		// there (and back through /auth/callback) is leaving the portal too.
		if !strings.HasPrefix(x.URL, d.base+"/") || strings.HasPrefix(x.URL, d.base+"/idp/") || strings.HasPrefix(x.URL, d.base+"/auth/") {
			t.Errorf("approving with a passkey left the portal: %s %s", x.Method, x.URL)
		}
		sawChallenge = sawChallenge || (x.Method == "POST" && strings.HasSuffix(x.URL, "/requests/"+ids["restart"]+"/passkey/challenge"))
		sawDecision = sawDecision || (x.Method == "POST" && strings.HasSuffix(x.URL, "/requests/"+ids["restart"]+"/decision"))
	}
	if !sawChallenge || !sawDecision {
		t.Errorf("approving with a passkey: challenge sent %v, decision sent %v; exchanges %v", sawChallenge, sawDecision, steps)
	}
	alice.expectDecided(t, "approve", "Your approval is recorded")
	if s := alice.text(t, `[data-testid="step-up-passkey"]`); !strings.HasPrefix(s, "passkey ") {
		t.Errorf("decision evidence %q, want the passkey", s)
	}
	stmt := alice.text(t, `[data-testid="step-up-passkey-statement"]`)
	for _, want := range []string{"countersign decision statement v1", "request_id: " + ids["restart"], "verdict: approve", "content_hash: " + alice.text(t, `[data-testid="content-hash"]`)} {
		if !strings.Contains(stmt, want) {
			t.Errorf("signed statement %q lacks %q", stmt, want)
		}
	}
	browsertest.Screenshot(t, alice.ctx, "request-passkey-approved")

	// The demo policy's prod-db-passkey rule accepts nothing but a
	// passkey: no plain Approve button, and the page says why.
	alice.open(t, ids["db.migrate"])
	if alice.count(t, `[data-testid="passkey-required"]`) != 1 || alice.count(t, `[data-testid="approve-button"]`) != 0 {
		t.Fatal("a passkey-only request offers a plain approval or does not say it needs a passkey")
	}
	browsertest.Screenshot(t, alice.ctx, "request-passkey-required")
	alice.click(t, `[data-testid="approve-passkey-button"]`)
	alice.waitFor(t, "decision-notice")
	alice.expectDecided(t, "approve", "Your approval is recorded")
	if s := alice.state(t); s != "approved" {
		t.Errorf("passkey-only request after its one approval: %q", s)
	}

	// Refused: the authenticator does not verify alice (no PIN, no
	// biometrics), so no signature is made and nothing is recorded.
	alice.run(t, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, webauthn.SetUserVerified, webauthn.SetUserVerifiedParams{AuthenticatorID: authID, IsUserVerified: false})
		return err
	}))
	alice.open(t, ids["scale"])
	alice.typeInto(t, "#approve-comment", "should not count")
	alice.click(t, `[data-testid="approve-passkey-button"]`)
	alice.waitForText(t, `[data-testid="approve-passkey-status"]`, "not used")
	if n := alice.count(t, `[data-testid="decision"]`); n != 0 {
		t.Errorf("%d decisions recorded on a refused passkey", n)
	}
	if s := alice.text(t, `[data-testid="approve-passkey-statement"]`); !strings.Contains(s, "request_id: "+ids["scale"]) {
		t.Errorf("statement shown before signing %q", s)
	}
	browsertest.Screenshot(t, alice.ctx, "request-passkey-refused")

	// Revoke: the passkey is no longer offered.
	alice.navigate(t, "/passkeys")
	alice.waitFor(t, "passkey-revoke")
	alice.clickNav(t, `[data-testid="passkey-revoke"]`)
	alice.waitFor(t, "passkey-revoked")
	browsertest.Screenshot(t, alice.ctx, "passkeys-revoked")
	alice.open(t, ids["scale"])
	if alice.count(t, `[data-testid="approve-passkey-button"]`) != 0 {
		t.Error("a revoked passkey is still offered")
	}
}

// virtualAuthenticator adds a CTAP2 platform authenticator with user
// verification to the person's browser.
func (p *person) virtualAuthenticator(t *testing.T) webauthn.AuthenticatorID {
	t.Helper()
	var id webauthn.AuthenticatorID
	p.run(t, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		res, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		}})
		id = res.AuthenticatorID
		return err
	}))
	return id
}

// waitForText waits until the element's text contains want.
func (p *person) waitForText(t *testing.T, sel, want string) {
	t.Helper()
	for i := 0; i < 300; i++ {
		if strings.Contains(p.text(t, sel), want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never said %q (says %q)", sel, want, p.text(t, sel))
}

// TestBrowserSignInAgainForPasskeys: alice signed in without her second
// factor may not change passkeys; the passkeys page says so and offers
// "Sign in again", which takes her through the demo IdP (password and
// TOTP, as a decision's step-up asks) straight back to the passkeys page,
// where she can now enrol one.
func TestBrowserSignInAgainForPasskeys(t *testing.T) {
	browsertest.Chromium(t)
	d := startDemoAt(t, "localhost:0")
	alice := d.person(t, "alice")
	alice.login(t, false)
	if status := alice.navigate(t, "/passkeys"); status != 200 {
		t.Fatalf("/passkeys: %d", status)
	}
	if got := alice.waitFor(t, "passkeys-stale", "passkeys-fresh"); got != "passkeys-stale" {
		t.Fatalf("a sign-in without the second factor may change passkeys (%s)", got)
	}
	if alice.count(t, `[data-testid="passkey-enroll-form"]`) != 0 {
		t.Fatal("the enrol form is offered to a weak sign-in")
	}
	browsertest.Screenshot(t, alice.ctx, "passkeys-sign-in-again")
	alice.clickNav(t, `[data-testid="passkeys-again"]`)
	if u := alice.location(t); !strings.Contains(u, d.base+"/idp/") {
		t.Fatalf("Sign in again led to %s, not the demo IdP", u)
	}
	alice.authenticate(t, true)
	alice.waitFor(t, "passkeys-fresh")
	if u := alice.location(t); u != d.base+"/passkeys" {
		t.Errorf("after signing in again at %s, want %s/passkeys", u, d.base)
	}
	alice.virtualAuthenticator(t)
	alice.typeInto(t, "#passkey-name", "laptop")
	alice.click(t, `[data-testid="passkey-enroll-button"]`)
	alice.waitFor(t, "passkeys-notice")
	if s := alice.text(t, `[data-testid="passkey-name"]`); s != "laptop" {
		t.Fatalf("enrolled passkey shows as %q; status: %q", s, alice.text(t, `[data-testid="passkey-status"]`))
	}
}
