package handlers

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/web/oidcrp"
	"github.com/countersign/countersign/web/session"
)

// AuthOptions turn on the signed-in portal: OIDC sign-in, server-side
// sessions, CSRF protection and step-up decisions.
type AuthOptions struct {
	// RP is the OIDC relying party (an *oidcrp.RP). Required.
	RP RelyingParty
	// Store holds the sessions table. Required.
	Store *models.Store
	// Roles maps IdP groups (the RP's roles claim) to Countersign roles.
	Roles map[string][]string
	// PolicyRoles adds the policy's roles for the person's IdP groups at
	// sign-in (see session.Mapping.PolicyRoles); nil adds none.
	PolicyRoles func(groups []string) []string
	// UsernameClaim is the ID token claim used as the username, matched
	// against Mattermost usernames. Default "preferred_username".
	UsernameClaim string
	// IdleTimeout and AbsoluteTimeout bound sessions. Defaults 30 min and
	// 12 h.
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	// Now is the clock for sessions and step-up checks; nil means
	// time.Now. Tests move it.
	Now func() time.Time
}

// RequestPages are the read-only request pages (*Requests). They
// are served only to signed-in people, so they need Auth.
type RequestPages interface {
	// Dashboard serves GET / for a signed-in person.
	Dashboard(c echo.Context) error
	// List serves GET /requests.
	List(c echo.Context) error
	// Show serves GET /requests/:id.
	Show(c echo.Context) error
	// FromPost serves GET /mm/:post_id, the deep link from a chat post.
	FromPost(c echo.Context) error
}

// RoutedPage is one page with a single GET handler.
type RoutedPage interface {
	Show(c echo.Context) error
}

// validateAuth checks the options that only matter with sign-in.
func (o Options) validateAuth() error {
	if o.Auth == nil {
		if o.Requests != nil || o.Approvals != nil || o.Integrity != nil || o.Windows != nil {
			return errors.New("server: options: Requests and Approvals need Auth (request pages are for signed-in people only)")
		}
		return nil
	}
	if o.Auth.RP == nil {
		return errors.New("server: options: Auth.RP is required")
	}
	if o.Auth.Store == nil {
		return errors.New("server: options: Auth.Store is required (sessions)")
	}
	if o.PublicURL == "" {
		return errors.New("server: options: PublicURL is required with Auth (origin checks, logout redirect)")
	}
	return nil
}

// validateDemoIdP checks where the demo provider is mounted.
func (o Options) validateDemoIdP() error {
	if o.DemoIdP == nil {
		return nil
	}
	p := o.DemoIdPPrefix
	if p == "" || p == "/" || !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.ContainsAny(p, "*:?#") {
		return fmt.Errorf("server: options: DemoIdPPrefix %q must be a path like /idp", p)
	}
	for _, taken := range []string{"/static", "/api", "/hooks", "/auth", "/login", "/logout", "/requests", "/healthz", "/readyz", "/metrics"} {
		if p == taken || strings.HasPrefix(p, taken+"/") {
			return fmt.Errorf("server: options: DemoIdPPrefix %q collides with the portal's %s", p, taken)
		}
	}
	return nil
}

// portalAuth is the assembled sign-in machinery New wires into routes and
// middleware.
type portalAuth struct {
	sessions  *session.Manager
	auth      *Auth
	decisions *Decisions
	// origin is the portal's own origin (scheme://host) from PublicURL,
	// the only Origin a state-changing request may come from.
	origin string
	// exempt are path prefixes that are not browser forms (machine
	// endpoints, the mounted demo IdP), so neither sessions nor CSRF apply.
	exempt []string
	// formTargets are the IdP origins form posts may redirect to.
	formTargets []string
}

// newPortalAuth builds the session manager and the sign-in and decision
// handlers from opts (validated).
func newPortalAuth(opts Options) (*portalAuth, error) {
	a := opts.Auth
	store, err := session.NewStore(a.Store, session.Config{
		IdleTimeout: a.IdleTimeout, AbsoluteTimeout: a.AbsoluteTimeout, Now: a.Now, Logger: opts.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	pub, err := url.Parse(opts.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("server: options: public URL: %w", err)
	}
	mgr := session.NewManager(store, session.NewCookie(opts.TLS || pub.Scheme == "https"))
	p := &portalAuth{
		sessions: mgr,
		origin:   strings.ToLower(pub.Scheme + "://" + pub.Host),
		exempt:   []string{"/api/", "/hooks/"},
	}
	if opts.DemoIdP != nil {
		p.exempt = append(p.exempt, opts.DemoIdPPrefix+"/")
	}
	if opts.ExampleExecutor != nil {
		// Called by the dispatcher with a grant, not by a browser form.
		p.exempt = append(p.exempt, ExampleExecutorPath)
	}
	if opts.Approvals != nil {
		p.decisions = NewDecisions(opts.Approvals, a.RP, mgr, DecisionsConfig{Now: a.Now, Logger: opts.Logger})
	}
	var finisher StepUpFinisher
	if p.decisions != nil {
		finisher = p.decisions
	}
	p.auth = NewAuth(a.RP, mgr, finisher, AuthConfig{
		Mapping:   session.Mapping{Roles: a.Roles, UsernameClaim: a.UsernameClaim, PolicyRoles: a.PolicyRoles},
		PublicURL: opts.PublicURL,
		Logger:    opts.Logger,
	})
	p.formTargets, err = idpOrigins(a.RP, p.origin)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// idpOrigins are the origins of the IdP's authorization and end-session
// endpoints when they differ from the portal's own.
func idpOrigins(rp RelyingParty, self string) ([]string, error) {
	authURL, _, err := rp.Begin(oidcrp.AuthOptions{})
	if err != nil {
		return nil, fmt.Errorf("server: relying party: %w", err)
	}
	candidates := []string{authURL}
	if endURL, ok := rp.EndSessionURL("", ""); ok {
		candidates = append(candidates, endURL)
	}
	var out []string
	for _, raw := range candidates {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			continue
		}
		o := strings.ToLower(u.Scheme + "://" + u.Host)
		if o != self && !contains(out, o) {
			out = append(out, o)
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// isExempt reports whether path is outside the browser portal.
func (p *portalAuth) isExempt(path string) bool {
	for _, prefix := range p.exempt {
		if strings.HasPrefix(path, prefix) || path == strings.TrimSuffix(prefix, "/") {
			return true
		}
	}
	return false
}
