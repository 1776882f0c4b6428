package handlers_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/pquerna/otp/totp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/countersign/countersign/handlers"
	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/clocktest"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/demoidp"
	"github.com/countersign/countersign/web/demoidp/demoidptest"
	"github.com/countersign/countersign/web/inprocess"
	"github.com/countersign/countersign/web/oidcrp"
	"github.com/countersign/countersign/web/session"
)

// The portal tests run the whole product path over real HTTP: a portal
// built by handlers.New with the demo OpenID provider mounted at /idp of the
// same server, the real relying party, a real SQLite store and approval
// service, and demoidptest's scripted browser typing passwords and TOTP
// codes. Nothing in the protocol is mocked.

const (
	portalClientID     = "countersign-portal"
	portalClientSecret = "portal-secret-0123456789"
)

// portalEnv is one running portal with its IdP, store and clock.
type portalEnv struct {
	url   string
	store *models.Store
	svc   *approval.Service
	users map[string]demoidp.User
	clock *clocktest.Clock
	// idpNow is the IdP's clock (the portal's, unless a test makes it lag).
	idpNow func() time.Time
	logs   *logBuffer
}

// newPortalEnv starts the portal. mutate may change the options (step-up
// policy, role map) before handlers.New sees them.
func newPortalEnv(t *testing.T, mutate ...func(*handlers.Options)) *portalEnv {
	t.Helper()
	return newPortalEnvWithIdPLag(t, 0, mutate...)
}

// newPortalEnvWithIdPLag starts a portal whose IdP's clock runs lag behind
// the portal's: its auth_time values then lie before the portal's
// challenges, like an IdP that answers with an earlier authentication.
func newPortalEnvWithIdPLag(t *testing.T, lag time.Duration, mutate ...func(*handlers.Options)) *portalEnv {
	t.Helper()
	return newPortalEnvWith(t, portalEnvOptions{idpLag: lag}, mutate...)
}

// portalEnvOptions are the settings of a test portal that are not
// handlers.Options.
type portalEnvOptions struct {
	// idpLag makes the IdP's clock run behind the portal's.
	idpLag time.Duration
	// stepUp is the decisions' step-up rule; zero means 5 minutes and the
	// demo IdP's mfa acr.
	stepUp *approval.StepUpRule
}

// newPortalEnvStepUp starts a portal whose decisions need rule.
func newPortalEnvStepUp(t *testing.T, rule approval.StepUpRule, mutate ...func(*handlers.Options)) *portalEnv {
	t.Helper()
	return newPortalEnvWith(t, portalEnvOptions{stepUp: &rule}, mutate...)
}

func newPortalEnvWith(t *testing.T, eo portalEnvOptions, mutate ...func(*handlers.Options)) *portalEnv {
	t.Helper()
	lag := eo.idpLag
	rule := approval.StepUpRule{MaxAge: 5 * time.Minute, ACR: []string{demoidp.ACRMFA}}
	if eo.stepUp != nil {
		rule = *eo.stepUp
	}
	clock := clocktest.Wall()
	idpNow := func() time.Time { return clock.Now().Add(-lag) }
	// The server must exist (for its URL) before the IdP and the portal
	// that serve it; the handler is set once both are built.
	var current atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		current.Load().(http.Handler).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	idp, byName := demoidptest.NewProvider(t, demoidp.Config{
		Issuer: srv.URL + "/idp",
		Clients: []demoidp.Client{{
			ID: portalClientID, Secret: portalClientSecret,
			RedirectURIs:           []string{srv.URL + "/auth/callback"},
			PostLogoutRedirectURIs: []string{srv.URL + "/"},
		}},
		Now:      idpNow,
		Logger:   slog.New(slog.DiscardHandler),
		TokenTTL: 2 * time.Hour, // tests move the clock by minutes
	})
	// Discovery runs before the server serves the IdP: in process, as
	// `countersign demo` does it.
	rp, err := oidcrp.New(context.Background(), oidcrp.Config{
		Issuer: idp.Issuer(), ClientID: portalClientID, ClientSecret: portalClientSecret,
		RedirectURL: srv.URL + "/auth/callback",
		Scopes:      []string{"openid", "profile", "email", "groups"},
		HTTPClient:  inprocess.Client(idp),
		Now:         clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	store := storetest.SQLite(t).Open(t)
	svc := approval.New(store, approval.Config{Now: clock.Now, ApproverRoles: []string{"approver"}, StepUp: rule})
	logs := &logBuffer{}
	opts := handlers.Options{
		Logger:    slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		DB:        store,
		Registry:  prometheus.NewRegistry(),
		PublicURL: srv.URL,
		Version:   "v0.0.0-test",
		Portal: &handlers.Portal{
			RP:        rp,
			Store:     store,
			Roles:     map[string][]string{"sre": {"approver"}, "security": {"approver"}, "audit": {"auditor"}},
			Now:       clock.Now,
			Approvals: svc,
		},
		DemoIdP:       idp,
		DemoIdPPrefix: idp.PathPrefix(),
	}
	for _, m := range mutate {
		m(&opts)
	}
	e, err := handlers.New(opts)
	if err != nil {
		t.Fatalf("handlers.New: %v", err)
	}
	current.Store(http.Handler(e))
	return &portalEnv{url: srv.URL, store: store, svc: svc, users: byName, clock: clock, idpNow: idpNow, logs: logs}
}

// pwd are the credentials of a password-only login.
func (e *portalEnv) pwd(name string) demoidptest.Credentials {
	u := e.users[name]
	return demoidptest.Credentials{Username: u.Username, Password: u.Password, SkipTOTP: true}
}

// mfa are the credentials of a login with the user's current TOTP code.
func (e *portalEnv) mfa(t *testing.T, name string) demoidptest.Credentials {
	t.Helper()
	u := e.users[name]
	code, err := totp.GenerateCode(u.TOTPSecret, e.idpNow())
	if err != nil {
		t.Fatal(err)
	}
	return demoidptest.Credentials{Username: u.Username, Password: u.Password, TOTPCode: code}
}

// seed creates a pending request asked by requester (a Mattermost
// username) that needs required approvals.
func (e *portalEnv) seed(t *testing.T, requester string, required int) *models.Request {
	t.Helper()
	r, err := e.svc.Create(context.Background(), approval.NewRequest{
		Kind: models.KindAction, Action: "restart", Params: map[string]any{"service": "payments-api", "env": "prod"},
		Purpose:   "OOM loop, INC-4211",
		Requester: models.Actor{Type: models.ActorHuman, ID: "mm-" + requester, Display: requester},
		Source:    models.Source{TeamID: "t1", TeamName: "ops", ChannelID: "c1", ChannelName: "incidents", RootPostID: "p1", TriggerPostID: "p1"},
		Posts: []models.ConversationPost{
			{PostSnapshot: models.PostSnapshot{PostID: "p1", AuthorID: "mm-" + requester, AuthorName: requester, AuthorKind: models.AuthorHuman, ChannelMember: true, Message: "please restart payments-api", CreateAt: 1}},
		},
		TTL: time.Hour, RequiredApprovals: required, PolicyRef: "default",
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// decisions returns the decisions recorded on request id.
func (e *portalEnv) decisions(t *testing.T, id string) []models.Decision {
	t.Helper()
	var ds []models.Decision
	if err := e.store.DB(context.Background()).Where("request_id = ?", id).Order("id").Find(&ds).Error; err != nil {
		t.Fatal(err)
	}
	return ds
}

// auditTypes returns the audit event types recorded for request id.
func (e *portalEnv) auditEvents(t *testing.T, id string) []models.AuditEvent {
	t.Helper()
	var evs []models.AuditEvent
	if err := e.store.DB(context.Background()).Where("request_id = ?", id).Order("seq").Find(&evs).Error; err != nil {
		t.Fatal(err)
	}
	return evs
}

// sessionCount is how many server-side sessions exist.
func (e *portalEnv) sessionCount(t *testing.T) int64 {
	t.Helper()
	var n int64
	if err := e.store.DB(context.Background()).Table("sessions").Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// page is one portal response as the tests look at it.
type page struct {
	status   int
	header   http.Header
	body     string
	location string
	cookies  []*http.Cookie
}

// doc parses the page's HTML.
func (p *page) doc(t *testing.T) *goquery.Document {
	t.Helper()
	return parseHTML(t, strings.NewReader(p.body))
}

// text is the whitespace-normalised text of the element with data-testid.
func (p *page) text(t *testing.T, id string) string {
	t.Helper()
	return strings.Join(strings.Fields(testID(p.doc(t), id).Text()), " ")
}

// visitor is one browser: its cookie jar is shared between the portal and
// the IdP, as in a real browser.
type visitor struct {
	env *portalEnv
	b   *demoidptest.Browser
}

func (e *portalEnv) visitor(t *testing.T) *visitor {
	t.Helper()
	return &visitor{env: e, b: demoidptest.NewTestBrowser(t, e.url+"/idp")}
}

// do sends req with the browser's cookies and does not follow redirects.
func (v *visitor) do(t *testing.T, req *http.Request) *page {
	t.Helper()
	resp, err := v.b.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &page{status: resp.StatusCode, header: resp.Header, body: string(body), location: resp.Header.Get("Location"), cookies: resp.Cookies()}
}

func (v *visitor) get(t *testing.T, pathOrURL string) *page {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, v.abs(pathOrURL), nil)
	if err != nil {
		t.Fatal(err)
	}
	return v.do(t, req)
}

func (v *visitor) abs(pathOrURL string) string {
	if strings.HasPrefix(pathOrURL, "http://") || strings.HasPrefix(pathOrURL, "https://") {
		return pathOrURL
	}
	return v.env.url + pathOrURL
}

// post submits a form the way a browser does from a portal page: with the
// portal's Origin and Sec-Fetch-Site: same-origin. headers override them
// (an empty value removes the header).
func (v *visitor) post(t *testing.T, path string, form url.Values, headers map[string]string) *page {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, v.abs(path), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", v.env.url)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, val := range headers {
		if val == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, val)
		}
	}
	return v.do(t, req)
}

// sessionCookie is the portal session cookie in the jar ("" if none).
func (v *visitor) sessionCookie() string {
	u, _ := url.Parse(v.env.url + "/")
	for _, k := range v.b.Client().Jar.Cookies(u) {
		if k.Name == session.CookieNameHTTP {
			return k.Value
		}
	}
	return ""
}

// setSessionCookie replaces the portal session cookie in the jar.
func (v *visitor) setSessionCookie(value string) {
	u, _ := url.Parse(v.env.url + "/")
	v.b.Client().Jar.SetCookies(u, []*http.Cookie{{Name: session.CookieNameHTTP, Value: value, Path: "/"}})
}

// startLogin opens /login?next=… and returns where the portal sent the
// browser (the IdP's authorization URL).
func (v *visitor) startLogin(t *testing.T, next string) string {
	t.Helper()
	p := v.get(t, "/login?next="+url.QueryEscape(next))
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, v.env.url+"/idp/") {
		t.Fatalf("/login: status %d, location %q; want a redirect to the IdP", p.status, p.location)
	}
	return p.location
}

// atIdP logs in at the IdP starting from authURL and returns the callback
// URL the IdP sent the browser to.
func (v *visitor) atIdP(t *testing.T, authURL string, c demoidptest.Credentials) string {
	t.Helper()
	cb, err := v.b.Login(context.Background(), authURL, c)
	if err != nil {
		t.Fatalf("login at the IdP: %v", err)
	}
	if !strings.HasPrefix(cb.String(), v.env.url+"/auth/callback?") {
		t.Fatalf("IdP sent the browser to %s, want the portal's callback", cb.Redacted())
	}
	return cb.String()
}

// steppedUp posts form as v's decision on request id and checks the
// portal answered with a step-up (a redirect to the IdP asking for a new
// login); it returns that authorization URL.
func (v *visitor) steppedUp(t *testing.T, id string, form url.Values) string {
	t.Helper()
	p := v.post(t, decisionPath(id), form, nil)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, v.env.url+"/idp/") || !strings.Contains(p.location, "prompt=login") {
		t.Fatalf("decision on %s: %d %q, want a step-up at the IdP (%s)", id, p.status, p.location, snippet(p.body))
	}
	return p.location
}

// login runs the whole sign-in and returns the callback's response.
func (v *visitor) login(t *testing.T, c demoidptest.Credentials, next string) *page {
	t.Helper()
	return v.get(t, v.atIdP(t, v.startLogin(t, next), c))
}

// mustLogin signs in and checks the callback redirected to want.
func (v *visitor) mustLogin(t *testing.T, c demoidptest.Credentials, next, want string) {
	t.Helper()
	p := v.login(t, c, next)
	if p.status != http.StatusSeeOther || p.location != want {
		t.Fatalf("callback: status %d, location %q; want 303 to %q (body: %s)", p.status, p.location, want, snippet(p.body))
	}
}

// signedIn returns a new visitor signed in with c, at the start page.
func (e *portalEnv) signedIn(t *testing.T, c demoidptest.Credentials) *visitor {
	t.Helper()
	v := e.visitor(t)
	v.mustLogin(t, c, "/", "/")
	return v
}

// wantState fails the test unless request id is in state want.
func (e *portalEnv) wantState(t *testing.T, id string, want models.State) {
	t.Helper()
	got, err := e.svc.Get(context.Background(), id)
	if err != nil || got.State != want {
		t.Fatalf("request %s is %v (%v), want %s", id, got.State, err, want)
	}
}

// decisionForm opens the request page and returns the approve or deny
// form's fields, as the page rendered them.
func (v *visitor) decisionForm(t *testing.T, id, verdict string) url.Values {
	t.Helper()
	p := v.get(t, "/requests/"+id)
	if p.status != http.StatusOK {
		t.Fatalf("request page: status %d", p.status)
	}
	form := testID(p.doc(t), verdict+"-form")
	if form.Length() != 1 {
		t.Fatalf("request page has no %s form (cannot-decide: %q)", verdict, p.text(t, "cannot-decide"))
	}
	vals := url.Values{}
	form.Find("input[name]").Each(func(_ int, s *goquery.Selection) {
		name, _ := s.Attr("name")
		val, _ := s.Attr("value")
		vals.Set(name, val)
	})
	if action, _ := form.Attr("action"); action != "/requests/"+id+"/decision" {
		t.Fatalf("form action %q", action)
	}
	return vals
}

// snippet shortens a body for failure messages.
func snippet(s string) string {
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}
