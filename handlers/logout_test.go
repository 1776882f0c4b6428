package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestLogoutEndsTheServerSessionAndTheIdPSession(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t)
	r := e.seed(t, "carol", 1)
	v := e.signedIn(t, e.pwd("alice"))
	old := v.sessionCookie()
	p := v.get(t, "/")
	if testID(p.doc(t), "signout-form").Length() != 1 {
		t.Fatal("no sign-out form in the header")
	}
	p = v.post(t, "/logout", url.Values{"csrf": {signoutToken(t, p)}}, nil)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, e.url+"/idp/") {
		t.Fatalf("logout: %d %q, want a redirect to the IdP's end_session_endpoint", p.status, p.location)
	}
	q := mustParse(t, p.location).Query()
	if q.Get("id_token_hint") == "" || q.Get("post_logout_redirect_uri") != e.url+"/" {
		t.Errorf("end-session parameters: hint set %v, post_logout_redirect_uri %q", q.Get("id_token_hint") != "", q.Get("post_logout_redirect_uri"))
	}
	if n := e.sessionCount(t); n != 0 {
		t.Errorf("%d sessions left after logout", n)
	}
	if c := v.sessionCookie(); c != "" {
		t.Error("the cookie was not cleared")
	}

	// The old cookie, replayed, is dead.
	v.setSessionCookie(old)
	if p := v.get(t, "/requests/"+r.ID); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/login") {
		t.Errorf("old cookie after logout: %d %q", p.status, p.location)
	}

	// The IdP ends its session and sends the browser back to the start
	// page, which offers to sign in instead of signing in silently.
	idp, err := v.b.Get(context.Background(), p.location)
	if err != nil {
		t.Fatal(err)
	}
	if idp.Redirect == nil || idp.Redirect.String() != e.url+"/" {
		t.Fatalf("IdP logout ended at %v (status %d)", idp.Redirect, idp.Status)
	}
	home := v.get(t, "/")
	if home.status != http.StatusOK || testID(home.doc(t), "signin-link").Length() != 1 {
		t.Errorf("start page after logout: %d", home.status)
	}
	// And the next sign-in asks for the password again.
	page, err := v.b.Get(context.Background(), v.startLogin(t, "/"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := page.Form("password-form"); !ok {
		t.Error("after logout the IdP signed the person in again without a password")
	}
}

func TestIdleSessionEndsInTheBrowser(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t)
	v := e.signedIn(t, e.pwd("alice"))
	e.clock.Advance(20 * time.Minute)
	if p := v.get(t, "/requests"); p.status != http.StatusOK {
		t.Fatalf("active session: %d", p.status)
	}
	e.clock.Advance(31 * time.Minute)
	p := v.get(t, "/requests")
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/login") {
		t.Fatalf("idle session: %d %q, want a redirect to sign in", p.status, p.location)
	}
	if v.sessionCookie() != "" {
		t.Error("the dead session's cookie was not cleared")
	}
	if n := e.sessionCount(t); n != 0 {
		t.Errorf("%d sessions left, want the expired one deleted", n)
	}
}

func TestStartPage(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t)
	v := e.visitor(t)
	p := v.get(t, "/")
	if p.status != http.StatusOK || testID(p.doc(t), "signin-link").Length() != 1 {
		t.Fatalf("anonymous start page: %d", p.status)
	}
	if href, _ := testID(p.doc(t), "signin-link").Attr("href"); href != "/login" {
		t.Errorf("sign-in link %q", href)
	}
	v.mustLogin(t, e.pwd("alice"), "/", "/")
	p = v.get(t, "/")
	if p.status != http.StatusOK || testID(p.doc(t), "signin-link").Length() != 0 || testID(p.doc(t), "account").Length() != 1 {
		t.Errorf("signed-in start page: %d, want the dashboard with the account header", p.status)
	}
}
