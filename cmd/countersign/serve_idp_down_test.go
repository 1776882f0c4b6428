package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countersign/countersign/web/demoidp"
	"github.com/countersign/countersign/web/demoidp/demoidptest"
)

// TestServeStartsWhileTheIdPIsDown: a provider that does not answer at
// start does not take the portal down. serve listens, /healthz answers,
// /readyz and /login say why they cannot serve yet, and once the provider
// answers discovery, sign-in works without a restart.
func TestServeStartsWhileTheIdPIsDown(t *testing.T) {
	var up atomic.Bool
	var idp http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		idp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	provider, _ := demoidptest.NewProvider(t, demoidp.Config{
		Issuer:  srv.URL + "/idp",
		Clients: []demoidp.Client{{ID: "portal", Secret: "portal-secret-0123456789", RedirectURIs: []string{"http://127.0.0.1/auth/callback"}}},
		Logger:  slog.New(slog.DiscardHandler),
	})
	idp = provider

	dir := t.TempDir()
	cfg := writeFile(t, fmt.Sprintf(`listen: 127.0.0.1:0
public_url: http://127.0.0.1
data_dir: %s
database: sqlite:%s/cs.db
oidc:
  issuer: %s/idp
  client_id: portal
  client_secret: portal-secret-0123456789
  role_map: {sre: [approver]}
step_up:
  acr_values: [%s]
`, dir, dir, srv.URL, demoidp.ACRMFA))
	base, _, out, stop := startServerLogs(t, []string{"COUNTERSIGN_LOG_LEVEL=info"}, "serve", "--config", cfg)
	defer stop()
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("healthz %d while the IdP is down", code)
	}
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "identity provider") {
		t.Fatalf("readyz %d %q while the IdP is down, want 503 naming the identity provider", code, body)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/login %d while the IdP is down, want 503", resp.StatusCode)
	}
	if !strings.Contains(out.String(), "did not answer discovery") {
		t.Errorf("the start does not say the IdP is down:\n%s", out.String())
	}

	up.Store(true)
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _ := get(t, base+"/readyz")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz still %d 30 s after the IdP came back", code)
		}
		time.Sleep(200 * time.Millisecond)
	}
	resp, err = noRedirect.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), srv.URL+"/idp/") {
		t.Fatalf("/login after the IdP came back: %d %q, want a redirect to it", resp.StatusCode, resp.Header.Get("Location"))
	}
	if !strings.Contains(out.String(), "sign-in is on") {
		t.Errorf("the log does not say sign-in came on:\n%s", out.String())
	}
}
