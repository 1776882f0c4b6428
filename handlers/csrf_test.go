package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestDecisionPostsNeedTheSessionsCSRFToken(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t)
	r := e.seed(t, "carol", 2)
	alice, bob := e.visitor(t), e.visitor(t)
	alice.mustLogin(t, e.mfa(t, "alice"), "/", "/")
	bob.mustLogin(t, e.mfa(t, "bob"), "/", "/")
	form := alice.decisionForm(t, r.ID, "approve")
	bobs := bob.decisionForm(t, r.ID, "approve")
	if form.Get("csrf") == "" || form.Get("csrf") == bobs.Get("csrf") {
		t.Fatal("the two sessions do not have distinct CSRF tokens")
	}
	path := "/requests/" + r.ID + "/decision"
	with := func(mutate func(url.Values)) url.Values {
		v := url.Values{}
		for k, vs := range form {
			v[k] = append([]string(nil), vs...)
		}
		mutate(v)
		return v
	}

	cases := []struct {
		name    string
		form    url.Values
		headers map[string]string
	}{
		{"no token", with(func(v url.Values) { v.Del("csrf") }), nil},
		{"empty token", with(func(v url.Values) { v.Set("csrf", "") }), nil},
		{"token of another session", with(func(v url.Values) { v.Set("csrf", bobs.Get("csrf")) }), nil},
		{"token cut short", with(func(v url.Values) { v.Set("csrf", form.Get("csrf")[:20]) }), nil},
		{"cross-site", form, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"same-site (sibling subdomain)", form, map[string]string{"Sec-Fetch-Site": "same-site"}},
		{"foreign Origin", form, map[string]string{"Origin": "https://evil.example"}},
		{"null Origin", form, map[string]string{"Origin": "null"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := alice.post(t, path, tc.form, tc.headers)
			if p.status != http.StatusForbidden {
				t.Fatalf("status %d, want 403", p.status)
			}
			if msg := p.text(t, "error-message"); msg == "" {
				t.Error("no explanation on the 403 page")
			}
			if ds := e.decisions(t, r.ID); len(ds) != 0 {
				t.Fatalf("a refused POST recorded %d decisions", len(ds))
			}
		})
	}
	if n := countLogLines(t, e, "request refused", "csrf:"); n < len(cases) {
		t.Errorf("%d CSRF refusals logged, want %d", n, len(cases))
	}

	// Without browser metadata (older browsers) the token alone decides.
	p := alice.post(t, path, form, map[string]string{"Origin": "", "Sec-Fetch-Site": ""})
	if p.status != http.StatusSeeOther || p.location != "/requests/"+r.ID+"?decided=approve" {
		t.Fatalf("valid POST: %d %q (%s)", p.status, p.location, snippet(p.body))
	}
	if ds := e.decisions(t, r.ID); len(ds) != 1 {
		t.Fatalf("%d decisions, want 1", len(ds))
	}
}

func TestUnauthenticatedPostsAreRefused(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t)
	r := e.seed(t, "carol", 1)
	v := e.visitor(t)
	p := v.post(t, "/requests/"+r.ID+"/decision", url.Values{"verdict": {"approve"}, "content_hash": {r.ContentHash}, "csrf": {"x"}}, nil)
	if p.status != http.StatusUnauthorized {
		t.Errorf("POST without a session: %d, want 401", p.status)
	}
	// A pre-login session (sign-in started, not finished) has a token but
	// no user: still refused, and nothing recorded.
	v.startLogin(t, "/")
	p = v.post(t, "/requests/"+r.ID+"/decision", url.Values{"verdict": {"approve"}, "content_hash": {r.ContentHash}}, nil)
	if p.status != http.StatusForbidden {
		t.Errorf("POST from a pre-login session without token: %d, want 403", p.status)
	}
	if ds := e.decisions(t, r.ID); len(ds) != 0 {
		t.Errorf("recorded %d decisions", len(ds))
	}
}

func TestLogoutNeedsTheCSRFToken(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t)
	v := e.signedIn(t, e.pwd("alice"))
	if p := v.post(t, "/logout", url.Values{}, nil); p.status != http.StatusForbidden {
		t.Fatalf("logout without token: %d, want 403", p.status)
	}
	if p := v.get(t, "/requests"); p.status != http.StatusOK {
		t.Errorf("a forged logout ended the session: %d", p.status)
	}
}

// countLogLines counts JSON log lines with msg whose error contains part.
func countLogLines(t *testing.T, e *portalEnv, msg, part string) int {
	t.Helper()
	n := 0
	for _, line := range e.logs.lines(t) {
		if line["msg"] == msg {
			if s, _ := line["error"].(string); strings.Contains(s, part) {
				n++
			}
		}
	}
	return n
}
