package handlers_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/countersign/countersign/handlers"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/demoidp"
	"github.com/countersign/countersign/web/demoidp/demoidptest"
	"github.com/countersign/countersign/web/inprocess"
	"github.com/countersign/countersign/web/oidcrp"
)

// externalIdP is a demo IdP on its own server, as a company IdP would be.
func externalIdP(t *testing.T, portal string) (*httptest.Server, *oidcrp.RP) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	idp, _ := demoidptest.NewProvider(t, demoidp.Config{
		Issuer:  srv.URL,
		Clients: []demoidp.Client{{ID: portalClientID, Secret: portalClientSecret, RedirectURIs: []string{portal + "/auth/callback"}}},
		Logger:  slog.New(slog.DiscardHandler),
	})
	mux.Handle("/", idp)
	rp, err := oidcrp.New(context.Background(), oidcrp.Config{
		Issuer: idp.Issuer(), ClientID: portalClientID, ClientSecret: portalClientSecret,
		RedirectURL: portal + "/auth/callback", HTTPClient: srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv, rp
}

func TestFormActionAllowsTheExternalIdP(t *testing.T) {
	t.Parallel()
	const portal = "https://portal.example"
	idpSrv, rp := externalIdP(t, portal)
	store := storetest.SQLite(t).Open(t)
	e, err := handlers.New(handlers.Options{
		DB: store, Registry: prometheus.NewRegistry(), PublicURL: portal, TLS: true,
		Portal: &handlers.Portal{RP: rp, Store: store, Approvals: approval.New(store, approval.Config{})},
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	csp := rec.Header().Get("Content-Security-Policy")
	// The Approve form is answered with a redirect to the IdP (step-up);
	// browsers check that redirect against form-action.
	if !strings.Contains(csp, "form-action 'self' "+idpSrv.URL+";") {
		t.Errorf("CSP = %q, want the IdP's origin in form-action", csp)
	}
	for _, d := range []string{"script-src 'self';", "style-src 'self';", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP lost %q: %q", d, csp)
		}
	}

	// Over https the cookie takes the __Host- prefix.
	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login", nil))
	if sc := rec.Header().Get("Set-Cookie"); !strings.HasPrefix(sc, "__Host-countersign=") || !strings.Contains(sc, "Secure") {
		t.Errorf("Set-Cookie over https = %q", sc)
	}
}

func TestNewRejectsIncompleteAuthOptions(t *testing.T) {
	t.Parallel()
	store := storetest.SQLite(t).Open(t)
	_, rp := externalIdP(t, "http://127.0.0.1:8080")
	svc := approval.New(store, approval.Config{})
	base := func() handlers.Options {
		return handlers.Options{
			DB: store, Registry: prometheus.NewRegistry(), PublicURL: "http://127.0.0.1:8080",
			Portal: &handlers.Portal{RP: rp, Store: store, Approvals: svc},
		}
	}
	if _, err := handlers.New(base()); err != nil {
		t.Fatalf("complete options refused: %v", err)
	}
	cases := map[string]func(*handlers.Options){
		"no approvals":       func(o *handlers.Options) { o.Portal.Approvals = nil },
		"no RP":              func(o *handlers.Options) { o.Portal.RP = nil },
		"no session store":   func(o *handlers.Options) { o.Portal.Store = nil },
		"no public URL":      func(o *handlers.Options) { o.PublicURL = "" },
		"idle over absolute": func(o *handlers.Options) { o.Portal.IdleTimeout, o.Portal.AbsoluteTimeout = 2*time.Hour, time.Hour },
		"slash command without tokens": func(o *handlers.Options) {
			o.Chat = &handlers.Chat{Approvals: svc, Command: &handlers.MattermostCommandOptions{}}
		},
		"demo IdP without prefix": func(o *handlers.Options) {
			o.DemoIdP = http.NotFoundHandler()
		},
		"demo IdP over the portal": func(o *handlers.Options) {
			o.DemoIdP, o.DemoIdPPrefix = http.NotFoundHandler(), "/requests"
		},
	}
	for name, mutate := range cases {
		o := base()
		mutate(&o)
		if _, err := handlers.New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := handlers.New(base()); err != nil {
		t.Errorf("valid options refused: %v", err)
	}
}

func TestInProcessClientServesTheHandler(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/idp/token" || r.Host != "portal.test" || r.RequestURI != "/idp/token?x=1" {
			http.Error(w, "unexpected request "+r.Method+" "+r.Host+r.RequestURI, http.StatusBadRequest)
			return
		}
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte("got " + r.PostForm.Get("code")))
	})
	resp, err := inprocess.Client(h).Post("http://portal.test/idp/token?x=1", "application/x-www-form-urlencoded", strings.NewReader("code=abc"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := new(strings.Builder)
	_, _ = io.Copy(buf, resp.Body)
	if resp.StatusCode != http.StatusCreated || buf.String() != "got abc" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("response %d %q %q", resp.StatusCode, buf.String(), resp.Header.Get("Content-Type"))
	}
}
