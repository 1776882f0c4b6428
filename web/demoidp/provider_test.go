package demoidp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/countersign/countersign/web/demoidp"
)

func TestDiscoveryUnderPrefix(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "/idp", nil)
	status, doc := getJSON(t, e.srv.Client(), e.issuer+"/.well-known/openid-configuration")
	if status != http.StatusOK {
		t.Fatalf("discovery: HTTP %d", status)
	}
	if doc["issuer"] != e.issuer {
		t.Errorf("issuer = %v, want %s", doc["issuer"], e.issuer)
	}
	for key, want := range map[string]string{
		"authorization_endpoint": e.issuer + "/authorize",
		"token_endpoint":         e.issuer + "/oauth/token",
		"userinfo_endpoint":      e.issuer + "/userinfo",
		"jwks_uri":               e.issuer + "/keys",
		"end_session_endpoint":   e.issuer + "/end_session",
	} {
		if doc[key] != want {
			t.Errorf("%s = %v, want %s", key, doc[key], want)
		}
	}
	acr, _ := doc["acr_values_supported"].([]any)
	if !slices.Contains(acr, any(demoidp.ACRMFA)) || !slices.Contains(acr, any(demoidp.ACRPassword)) {
		t.Errorf("acr_values_supported = %v", doc["acr_values_supported"])
	}
	if doc["claims_parameter_supported"] != true {
		t.Errorf("claims_parameter_supported = %v", doc["claims_parameter_supported"])
	}
	methods, _ := doc["code_challenge_methods_supported"].([]any)
	if !slices.Contains(methods, any("S256")) {
		t.Errorf("code_challenge_methods_supported = %v", methods)
	}

	status, jwks := getJSON(t, e.srv.Client(), e.issuer+"/keys")
	keys, _ := jwks["keys"].([]any)
	if status != http.StatusOK || len(keys) != 1 {
		t.Fatalf("jwks: HTTP %d, %v", status, jwks)
	}
	k := keys[0].(map[string]any)
	if k["kty"] != "RSA" || k["use"] != "sig" || k["d"] != nil {
		t.Errorf("jwk = %v (must be a public RSA signing key)", k)
	}
}

func TestPrefixIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "/idp", nil)
	c := e.srv.Client()
	// The provider does not answer outside its prefix...
	resp, err := c.Get(e.srv.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot {
		t.Errorf("root discovery answered by %d, want the host's 418", resp.StatusCode)
	}
	// Mounted more broadly than its prefix, it still refuses paths that
	// only share the prefix's letters.
	for path, want := range map[string]int{"/idpx/keys": http.StatusNotFound, "/keys": http.StatusNotFound, "/idp/keys": http.StatusOK, "/idp": http.StatusFound} {
		rec := httptest.NewRecorder()
		e.idp.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("GET %s = %d, want %d", path, rec.Code, want)
		}
	}
}

func TestStandaloneWithoutPrefix(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "", nil)
	if e.idp.PathPrefix() != "" {
		t.Fatalf("PathPrefix = %q", e.idp.PathPrefix())
	}
	status, doc := getJSON(t, e.srv.Client(), e.srv.URL+"/.well-known/openid-configuration")
	if status != http.StatusOK || doc["issuer"] != e.srv.URL {
		t.Fatalf("discovery: HTTP %d, issuer %v", status, doc["issuer"])
	}
	cb, err := e.browser(t).Login(context.Background(), e.authURL(pkce("v-0123456789012345678901234567890123456789")), e.pwd("carol"))
	if err != nil {
		t.Fatal(err)
	}
	if cb.Query().Get("code") == "" || cb.Query().Get("state") != "state-123" {
		t.Errorf("callback = %s", cb.Redacted())
	}
}

func TestPagesAreLabelledDemoAndScriptFree(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "/idp", nil)
	b := e.browser(t)
	page := b.MustGet(t, e.authURL(pkce("v-0123456789012345678901234567890123456789")))
	if _, ok := page.Form("password-form"); !ok {
		t.Fatalf("no login form (HTTP %d)", page.Status)
	}
	banner, ok := page.TestIDText("demo-banner")
	if !ok || !strings.Contains(strings.ToLower(banner), "demo") {
		t.Errorf("login page is not labelled as a demo: %q", banner)
	}
	if strings.Contains(strings.ToLower(page.Body), "<script") || strings.Contains(page.Body, "style=") {
		t.Error("login page contains a script or inline style")
	}

	// The headers of a rendered page.
	resp, err := b.Client().Get(page.URL.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP = %q", csp)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers = %v", resp.Header)
	}
	// The stylesheet the CSP allows is served from the provider itself.
	css, err := b.Client().Get(e.issuer + "/static/demoidp.css")
	if err != nil {
		t.Fatal(err)
	}
	defer css.Body.Close()
	if css.StatusCode != http.StatusOK || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet: HTTP %d %s", css.StatusCode, css.Header.Get("Content-Type"))
	}
}
