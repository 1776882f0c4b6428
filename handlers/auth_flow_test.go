package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/web/session"
)

func TestLoginRoundTrip(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t)
	r := e.seed(t, "carol", 1)
	v := e.visitor(t)
	target := "/requests/" + r.ID

	// An anonymous deep link is sent to sign in, and told where to return.
	p := v.get(t, target)
	if p.status != http.StatusSeeOther || p.location != "/login?next="+url.QueryEscape(target) {
		t.Fatalf("anonymous deep link: %d %q", p.status, p.location)
	}
	if e.sessionCount(t) != 0 {
		t.Error("an anonymous page view created a session")
	}

	// /login starts a session holding the sign-in in progress.
	p = v.get(t, "/login?next="+url.QueryEscape(target))
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, e.url+"/idp/") {
		t.Fatalf("/login: %d %q", p.status, p.location)
	}
	pre := sessionSetCookie(t, p)
	assertCookieFlags(t, pre)
	authURL, _ := url.Parse(p.location)
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if authURL.Query().Get(k) == "" {
			t.Errorf("authorization request lacks %s", k)
		}
	}
	if authURL.Query().Get("code_challenge_method") != "S256" {
		t.Error("PKCE is not S256")
	}

	// The IdP login and the callback: a new session id, back to the deep link.
	cbURL := v.atIdP(t, p.location, e.pwd("alice"))
	p = v.get(t, cbURL)
	if p.status != http.StatusSeeOther || p.location != target {
		t.Fatalf("callback: %d %q (body %s)", p.status, p.location, snippet(p.body))
	}
	post := sessionSetCookie(t, p)
	assertCookieFlags(t, post)
	if post.Value == pre.Value {
		t.Fatal("the session id was not rotated at sign-in")
	}
	p = v.get(t, target)
	if p.status != http.StatusOK {
		t.Fatalf("request page after sign-in: %d", p.status)
	}
	if name := p.text(t, "account-name"); !strings.Contains(name, "Alice") {
		t.Errorf("header shows %q, want the signed-in person", name)
	}
	if n := e.sessionCount(t); n != 1 {
		t.Errorf("%d sessions after sign-in, want 1 (the pre-login one is deleted)", n)
	}

	// The pre-login id is worthless now (session fixation).
	signedIn := v.sessionCookie()
	v.setSessionCookie(pre.Value)
	if p := v.get(t, target); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/login") {
		t.Errorf("pre-login cookie still opens the page: %d %q", p.status, p.location)
	}
	v.setSessionCookie(signedIn)

	// Replaying the callback finds no sign-in in progress.
	p = v.get(t, cbURL)
	if p.status != http.StatusBadRequest || !strings.Contains(p.text(t, "error-message"), "not valid any more") {
		t.Errorf("replayed callback: %d %q", p.status, p.text(t, "error-message"))
	}
	if p := v.get(t, target); p.status != http.StatusOK {
		t.Errorf("a refused replay ended the real session: %d", p.status)
	}

	// Nothing secret reached the log.
	logs := e.logs.String()
	code := mustParse(t, cbURL).Query().Get("code")
	for name, secret := range map[string]string{"session id": post.Value, "pre-login id": pre.Value, "code": code, "state": authURL.Query().Get("state")} {
		if secret != "" && strings.Contains(logs, secret) {
			t.Errorf("the log contains the %s", name)
		}
	}
	if !strings.Contains(logs, `"msg":"signed in"`) {
		t.Error("sign-in is not logged")
	}
}

func TestSignedInLoginGoesStraightToNext(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t)
	v := e.visitor(t)
	v.mustLogin(t, e.pwd("bob"), "/requests", "/requests")
	if p := v.get(t, "/login?next=/requests%3Fstate%3Dpending"); p.status != http.StatusSeeOther || p.location != "/requests?state=pending" {
		t.Errorf("signed-in /login: %d %q", p.status, p.location)
	}
}

func TestForgedStateIsRefusedAndBurnsTheLogin(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t)
	v := e.visitor(t)
	cb := mustParse(t, v.atIdP(t, v.startLogin(t, "/"), e.pwd("alice")))
	forged := *cb
	q := forged.Query()
	q.Set("state", q.Get("state")[:len(q.Get("state"))-2]+"xx")
	forged.RawQuery = q.Encode()
	p := v.get(t, forged.String())
	if p.status != http.StatusBadRequest {
		t.Fatalf("forged state: %d, want 400", p.status)
	}
	// The genuine callback cannot be used afterwards either: the pending
	// sign-in is one-time.
	if p := v.get(t, cb.String()); p.status != http.StatusBadRequest {
		t.Errorf("genuine callback after a forged one: %d, want 400", p.status)
	}
	e.wantRefusedSignIn(t, v, "state mismatch")
}

func TestCallbackWithoutASignInInProgress(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t)
	v := e.visitor(t)
	if p := v.get(t, "/auth/callback?state=abc&code=def"); p.status != http.StatusBadRequest {
		t.Errorf("callback without session: %d, want 400", p.status)
	}
	// A callback from another browser's sign-in: its state belongs to
	// that browser's session, not this one's.
	other := e.visitor(t)
	cb := other.atIdP(t, other.startLogin(t, "/"), e.pwd("carol"))
	v.startLogin(t, "/")
	if p := v.get(t, cb); p.status != http.StatusBadRequest {
		t.Errorf("callback carried to another browser: %d, want 400", p.status)
	}
}

func TestWrongNonceIsRefused(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t)
	v := e.visitor(t)
	authURL := v.startLogin(t, "/")
	// Change the nonce the portal expects (as if the ID token answered
	// another login): the IdP embeds the one from the URL.
	var raw string
	if err := e.store.DB(context.Background()).Table("sessions").Select("login_pending").Row().Scan(&raw); err != nil {
		t.Fatal(err)
	}
	var pending map[string]any
	if err := json.Unmarshal([]byte(raw), &pending); err != nil {
		t.Fatal(err)
	}
	pending["oidc"].(map[string]any)["nonce"] = "a-nonce-from-another-login"
	b, _ := json.Marshal(pending)
	if err := e.store.DB(context.Background()).Exec(`UPDATE sessions SET login_pending = ?`, string(b)).Error; err != nil {
		t.Fatal(err)
	}
	p := v.get(t, v.atIdP(t, authURL, e.pwd("alice")))
	if p.status != http.StatusBadRequest || !strings.Contains(p.text(t, "error-message"), "could not be verified") {
		t.Fatalf("wrong nonce: %d %q", p.status, p.text(t, "error-message"))
	}
	e.wantRefusedSignIn(t, v, "nonce mismatch")
}

func TestOpenRedirectsInNextEndAtTheStartPage(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t)
	for _, next := range []string{
		"//evil.com", "//evil.com/requests", "/\\evil.com", "https://evil.com", "http://evil.com/",
		"javascript:alert(document.cookie)", "evil.com", "/login?next=//evil.com", "\t/requests",
	} {
		t.Run(next, func(t *testing.T) {
			v := e.visitor(t)
			v.mustLogin(t, e.pwd("alice"), next, "/")
		})
	}
}

func TestRoleLessPersonSignsInButCannotDecide(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t)
	others := e.seed(t, "dave", 1)
	own := e.seed(t, "carol", 1)
	v := e.visitor(t)
	v.mustLogin(t, e.mfa(t, "carol"), "/", "/") // carol's group "dev" maps to no role
	csrf := signoutToken(t, v.get(t, "/"))
	decide := func(r *models.Request) *page {
		return v.post(t, "/requests/"+r.ID+"/decision", url.Values{"csrf": {csrf}, "verdict": {"approve"}, "content_hash": {r.ContentHash}}, nil)
	}
	// Someone else's request is invisible to her: 404, as on its page.
	if p := decide(others); p.status != http.StatusNotFound {
		t.Errorf("role-less approve of another's request: %d, want 404", p.status)
	}
	// Her own she may see, but not decide.
	if p := decide(own); p.status != http.StatusForbidden {
		t.Errorf("role-less approve of her own request: %d, want 403", p.status)
	}
	for _, r := range []*models.Request{others, own} {
		if ds := e.decisions(t, r.ID); len(ds) != 0 {
			t.Errorf("recorded %d decisions on %s", len(ds), r.ID)
		}
	}
}

// sessionSetCookie returns the portal session cookie a response set.
func sessionSetCookie(t *testing.T, p *page) *http.Cookie {
	t.Helper()
	for _, k := range p.cookies {
		if k.Name == session.CookieNameHTTP && k.Value != "" {
			return k
		}
	}
	t.Fatalf("response sets no session cookie (Set-Cookie: %q)", p.header.Values("Set-Cookie"))
	return nil
}

func assertCookieFlags(t *testing.T, k *http.Cookie) {
	t.Helper()
	if !k.Secure || !k.HttpOnly || k.SameSite != http.SameSiteLaxMode || k.Path != "/" || k.Domain != "" {
		t.Errorf("session cookie flags: %+v; want Secure, HttpOnly, SameSite=Lax, Path=/, no Domain", k)
	}
	if len(k.Value) != 43 {
		t.Errorf("session id is %d characters, want 43 (32 random bytes, base64url)", len(k.Value))
	}
}

// signoutToken is the CSRF token in the header's sign-out form.
func signoutToken(t *testing.T, p *page) string {
	t.Helper()
	tok, ok := testID(p.doc(t), "signout-form").Find(`input[name="csrf"]`).Attr("value")
	if !ok || tok == "" {
		t.Fatalf("page has no sign-out form with a CSRF token (status %d)", p.status)
	}
	return tok
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// wantRefusedSignIn checks that a refused callback left v signed out (the
// request list sends it to sign in) and that the log names why.
func (e *portalEnv) wantRefusedSignIn(t *testing.T, v *visitor, why string) {
	t.Helper()
	if p := v.get(t, "/requests"); p.status != http.StatusSeeOther {
		t.Errorf("signed in after a refused callback (%s): %d", why, p.status)
	}
	if !strings.Contains(e.logs.String(), why) {
		t.Errorf("%q is not logged", why)
	}
}
