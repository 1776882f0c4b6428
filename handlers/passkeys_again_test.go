package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/web/demoidp"
	"github.com/countersign/countersign/web/session"
)

// TestPasskeysPageSignsInAgain: after the sign-in has aged past the
// step-up rule, the passkeys page offers "Sign in again" instead of the
// enrolment form; the button asks the provider for a new strong login as
// the same person and comes back to a page that can enrol. Signing in
// again as someone else changes nothing; the form needs
// the CSRF token like every other.
func TestPasskeysPageSignsInAgain(t *testing.T) {
	e := newPasskeyPortal(t)
	bob := e.signedIn(t, e.mfa(t, "bob"))
	if p := bob.get(t, "/passkeys"); testID(p.doc(t), "passkey-enroll-form").Length() != 1 || testID(p.doc(t), "passkeys-again-form").Length() != 0 {
		t.Fatal("a fresh sign-in is not offered the enrolment form, or is asked to sign in again")
	}

	e.clock.Advance(10 * time.Minute) // past the rule's 5 minutes
	page := bob.get(t, "/passkeys")
	doc := page.doc(t)
	if testID(doc, "passkey-enroll-form").Length() != 0 || testID(doc, "passkeys-again-form").Length() != 1 {
		t.Fatalf("a stale sign-in: enrolment form %d, sign-in-again form %d", testID(doc, "passkey-enroll-form").Length(), testID(doc, "passkeys-again-form").Length())
	}
	action, _ := testID(doc, "passkeys-again-form").Attr("action")
	next, _ := testID(doc, "passkeys-again-form").Find(`input[name="next"]`).Attr("value")
	tok := bob.csrf(t)

	if p := bob.post(t, action, url.Values{"next": {next}}, nil); p.status != http.StatusForbidden {
		t.Fatalf("sign in again without the CSRF token: %d %q", p.status, p.location)
	}
	again := func() string {
		t.Helper()
		p := bob.post(t, action, url.Values{session.CSRFField: {tok}, "next": {next}}, nil)
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, e.url+"/idp/") {
			t.Fatalf("sign in again: %d %q (%s)", p.status, p.location, snippet(p.body))
		}
		q := mustParse(t, p.location).Query()
		for k, want := range map[string]string{"prompt": "login", "max_age": "300", "acr_values": demoidp.ACRMFA, "login_hint": e.users["bob"].Email} {
			if q.Get(k) != want {
				t.Errorf("sign-in-again request %s=%q, want %q", k, q.Get(k), want)
			}
		}
		return p.location
	}

	// Someone else's login at the provider: refused, bob's session stays
	// bob's and stays stale.
	cookie := bob.sessionCookie()
	if p := bob.get(t, bob.atIdP(t, again(), e.mfa(t, "alice"))); p.status != http.StatusForbidden || !strings.Contains(p.body, "different person") {
		t.Fatalf("sign in again as alice: %d %q %s", p.status, p.location, snippet(p.body))
	}
	if bob.sessionCookie() != cookie {
		t.Fatal("a refused sign-in-again replaced the session")
	}
	if testID(bob.get(t, "/passkeys").doc(t), "passkeys-again-form").Length() != 1 {
		t.Fatal("after alice's login bob's session is no longer stale, or is no longer bob's")
	}
	if !strings.Contains(e.logs.String(), `"sign-in again refused"`) {
		t.Error("the refusal is not logged")
	}

	// Bob with his second factor: back on the page, which can enrol now.
	tok = bob.csrf(t)
	if p := bob.get(t, bob.atIdP(t, again(), e.mfa(t, "bob"))); p.status != http.StatusSeeOther || p.location != "/passkeys" {
		t.Fatalf("sign in again: %d %q %s", p.status, p.location, snippet(p.body))
	}
	if bob.sessionCookie() == cookie {
		t.Error("signing in again kept the old session id")
	}
	if p := bob.get(t, "/passkeys"); testID(p.doc(t), "passkey-enroll-form").Length() != 1 || !strings.Contains(p.text(t, "passkeys-fresh"), "until") {
		t.Fatal("after signing in again the page still cannot enrol")
	}
	bob.enrolPasskey(t, "laptop")

	// Nobody signed in: no sign-in-again is started.
	anon := e.visitor(t)
	if p := anon.post(t, action, url.Values{"next": {"/passkeys"}}, nil); p.status != http.StatusUnauthorized && p.status != http.StatusForbidden || strings.Contains(p.location, "/idp/") {
		t.Fatalf("sign in again without a session: %d %q", p.status, p.location)
	}

	// next is a local path only.
	p := bob.post(t, action, url.Values{session.CSRFField: {bob.csrf(t)}, "next": {"https://evil.example/"}}, nil)
	if p.status != http.StatusSeeOther {
		t.Fatalf("sign in again with a foreign next: %d", p.status)
	}
	e.clock.Advance(31 * time.Second) // a TOTP code counts once
	if cb := bob.get(t, bob.atIdP(t, p.location, e.mfa(t, "bob"))); cb.location != "/" {
		t.Fatalf("sign in again with a foreign next returned to %q", cb.location)
	}
}
