package oidcrp

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/countersign/countersign/models/clocktest"
	"github.com/countersign/countersign/web/demoidp"
	"github.com/countersign/countersign/web/demoidp/demoidptest"
)

const (
	portalClientID     = "countersign-portal"
	portalClientSecret = "portal-secret-0123456789"
	portalRedirect     = "http://portal.test/auth/callback"
	portalLoggedOut    = "http://portal.test/logged-out"
	otherClientID      = "other-app"
	otherClientSecret  = "other-secret-0123456789"
	otherRedirect      = "http://other.test/callback"
)

// idpEnv is a demo provider mounted under /idp of a real HTTP server, as
// the portal mounts it, with a clock the test controls.
type idpEnv struct {
	srv    *httptest.Server
	idp    *demoidp.Provider
	issuer string
	users  map[string]demoidp.User
	clock  *clocktest.Clock
}

func newIDPEnv(t *testing.T) *idpEnv {
	t.Helper()
	clock := clocktest.Wall()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	idp, byName := demoidptest.NewProvider(t, demoidp.Config{
		Issuer: srv.URL + "/idp",
		Clients: []demoidp.Client{
			{ID: portalClientID, Secret: portalClientSecret, RedirectURIs: []string{portalRedirect}, PostLogoutRedirectURIs: []string{portalLoggedOut}},
			{ID: otherClientID, Secret: otherClientSecret, RedirectURIs: []string{otherRedirect}},
		},
		Now:      clock.Now,
		TokenTTL: 2 * time.Hour, // the tests move the clock by minutes
	})
	mux.Handle(idp.PathPrefix()+"/", idp)
	return &idpEnv{srv: srv, idp: idp, issuer: idp.Issuer(), users: byName, clock: clock}
}

func (e *idpEnv) rp(t *testing.T, clientID, secret, redirect string) *RP {
	t.Helper()
	rp, err := New(context.Background(), Config{
		Issuer:       e.issuer,
		ClientID:     clientID,
		ClientSecret: secret,
		RedirectURL:  redirect,
		Scopes:       []string{"openid", "profile", "email", "groups"},
		HTTPClient:   e.srv.Client(),
		Now:          e.clock.Now,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return rp
}

func (e *idpEnv) portal(t *testing.T) *RP {
	return e.rp(t, portalClientID, portalClientSecret, portalRedirect)
}

func (e *idpEnv) browser(t *testing.T) *demoidptest.Browser {
	t.Helper()
	return demoidptest.NewTestBrowser(t, e.issuer)
}

// code returns the user's current TOTP code by the shared clock, as their
// phone would show it.
func (e *idpEnv) code(t *testing.T, username string) string {
	t.Helper()
	c, err := totp.GenerateCode(e.users[username].TOTPSecret, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *idpEnv) pwd(username string) demoidptest.Credentials {
	u := e.users[username]
	return demoidptest.Credentials{Username: u.Username, Password: u.Password, SkipTOTP: true}
}

func (e *idpEnv) mfa(t *testing.T, username string) demoidptest.Credentials {
	u := e.users[username]
	return demoidptest.Credentials{Username: u.Username, Password: u.Password, TOTPCode: e.code(t, username)}
}

// login runs Begin, the browser login and Complete, and returns the
// identity. It fails the test on any error.
func login(t *testing.T, rp *RP, b *demoidptest.Browser, opts AuthOptions, c demoidptest.Credentials) *Identity {
	t.Helper()
	id, err := tryLogin(t, rp, b, opts, c)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return id
}

func tryLogin(t *testing.T, rp *RP, b *demoidptest.Browser, opts AuthOptions, c demoidptest.Credentials) (*Identity, error) {
	t.Helper()
	ctx := context.Background()
	authURL, pending, err := rp.Begin(opts)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	cb, err := b.Login(ctx, authURL, c)
	if err != nil {
		return nil, err
	}
	assertCallback(t, cb, portalOrOther(rp))
	return rp.Complete(ctx, pending, cb.Query())
}

func portalOrOther(rp *RP) string { return rp.cfg.RedirectURL }

// assertCallback checks that the browser was sent to the RP's redirect URI.
func assertCallback(t *testing.T, cb *url.URL, redirect string) {
	t.Helper()
	want, _ := url.Parse(redirect)
	if cb.Scheme != want.Scheme || cb.Host != want.Host || cb.Path != want.Path {
		t.Fatalf("browser sent to %s, want the redirect URI %s", cb.Redacted(), redirect)
	}
}

func mustBegin(t *testing.T, rp *RP, opts AuthOptions) (string, Pending) {
	t.Helper()
	u, p, err := rp.Begin(opts)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	return u, p
}

// carolCallback begins a login at rp and signs carol in with her password
// in b, returning what the RP kept and the URL the browser was sent back to.
func (e *idpEnv) carolCallback(t *testing.T, rp *RP, b *demoidptest.Browser) (Pending, *url.URL) {
	t.Helper()
	authURL, pending := mustBegin(t, rp, AuthOptions{})
	cb, err := b.Login(context.Background(), authURL, e.pwd("carol"))
	if err != nil {
		t.Fatal(err)
	}
	return pending, cb
}

// beginIn begins a login at rp with opts and opens the authorization
// request in b, returning what the RP kept and the page the IdP answered.
func beginIn(t *testing.T, rp *RP, b *demoidptest.Browser, opts AuthOptions) (Pending, *demoidptest.Page) {
	t.Helper()
	authURL, pending := mustBegin(t, rp, opts)
	return pending, b.MustGet(t, authURL)
}

// complete finishes the login the RP kept in pending with the callback
// cb, failing the test if the RP refuses it.
func complete(t *testing.T, rp *RP, pending Pending, cb *url.URL) *Identity {
	t.Helper()
	id, err := rp.Complete(context.Background(), pending, cb.Query())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// continueLogin answers the IdP's forms on page with c and completes the
// login at rp, failing the test if either step fails.
func continueLogin(t *testing.T, rp *RP, b *demoidptest.Browser, pending Pending, page *demoidptest.Page, c demoidptest.Credentials) *Identity {
	t.Helper()
	cb, err := b.Continue(context.Background(), page, c)
	if err != nil {
		t.Fatal(err)
	}
	return complete(t, rp, pending, cb)
}

// signedIn starts an IdP and the portal's RP, signs name in with the
// password in a new browser, and moves the clock on by ago: an IdP
// session of that age.
func signedIn(t *testing.T, name string, ago time.Duration) (*idpEnv, *RP, *demoidptest.Browser, *Identity) {
	t.Helper()
	e := newIDPEnv(t)
	rp, b := e.portal(t), e.browser(t)
	first := login(t, rp, b, AuthOptions{}, e.pwd(name))
	e.clock.Advance(ago)
	return e, rp, b, first
}

// wantRefused fails the test unless the RP refuses to complete pending
// with the callback query q with an error that is want.
func wantRefused(t *testing.T, rp *RP, pending Pending, q url.Values, want error, what string) {
	t.Helper()
	if _, err := rp.Complete(context.Background(), pending, q); !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", what, err, want)
	}
}

func dur(d time.Duration) *time.Duration { return &d }
