package handlers

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/models/comment"
	"github.com/countersign/countersign/models/passkey"
	"github.com/countersign/countersign/models/window"
	"github.com/countersign/countersign/web/oidcrp"
	"github.com/countersign/countersign/web/session"
)

// Portal is what the signed-in portal is built from: sign-in and
// sessions, and the services its pages read and its decisions write.
type Portal struct {
	// RP is the OIDC relying party (an *oidcrp.RP). Required.
	RP RelyingParty
	// Store holds the sessions table and answers the audit search.
	// Required.
	Store *models.Store
	// Roles maps IdP groups (the RP's roles claim) to Countersign roles.
	Roles map[string][]string
	// PolicyRoles adds the policy's roles for the person's IdP groups at
	// sign-in (see session.Mapping.PolicyRoles); nil adds none.
	PolicyRoles func(groups []string) []string
	// UsernameClaim is the ID token claim used as the username, matched
	// against Mattermost usernames. Default "preferred_username".
	UsernameClaim string
	// StepUpAtSignIn makes sign-in ask for the decisions' step-up
	// strength up front (see AuthConfig.SignInStepUp).
	StepUpAtSignIn bool
	// IdleTimeout and AbsoluteTimeout bound sessions. Defaults 30 min and
	// 12 h.
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	// Now is the clock for sessions, pages and step-up checks; nil means
	// time.Now. Tests move it.
	Now func() time.Time

	// Approvals serves the request pages and records decisions. Required.
	Approvals *approval.Service
	// MattermostURL is the Mattermost site URL for channel links and post
	// permalinks; empty hides them.
	MattermostURL string
	// Policy is the policy in force and its open change windows, for the
	// /windows page; nil leaves the page off.
	Policy *PolicyPages
	// Executions and Grants show each request's execution and grant after
	// its approved content; nil shows none.
	Executions ExecutionReader
	Grants     GrantReader
	// Checkpoints signs the audit log: decisions link their receipts,
	// auditors download bundles and see /audit/integrity; nil turns those
	// off.
	Checkpoints *proof.Checkpointer
	// Integrity answers /audit/integrity from a cache over Checkpoints;
	// nil builds one. Pass one the caller warms at start, so the first
	// visit after a restart does not recompute the whole tree.
	Integrity *proof.IntegrityCache
	// CheckpointInterval is how often the log head is signed
	// (audit.checkpoint_interval); /audit/integrity says when the next
	// checkpoint comes. Zero leaves that out.
	CheckpointInterval time.Duration
	// CommentNotes queues a chat thread note for each comment
	// (outbox.CommentNotes); nil when no chat delivers them.
	CommentNotes comment.Notifier
	// Passkeys enrols approvers' passkeys and checks passkey-signed
	// decisions (the same service Approvals was built with); nil turns
	// passkeys off (the page says so).
	Passkeys *passkey.Service
}

// PolicyPages is what the /windows page shows: the open windows and the
// policy in force.
type PolicyPages struct {
	Windows *window.Service
	State   PolicyState
}

// validateAuth checks the options that only matter with sign-in.
func (o Options) validateAuth() error {
	if o.Portal == nil {
		return nil
	}
	if o.Portal.RP == nil {
		return errors.New("server: options: Portal.RP is required")
	}
	if o.Portal.Store == nil {
		return errors.New("server: options: Portal.Store is required (sessions)")
	}
	if o.Portal.Approvals == nil {
		return errors.New("server: options: Portal.Approvals is required (request pages, decisions)")
	}
	if o.PublicURL == "" {
		return errors.New("server: options: PublicURL is required with the portal (origin checks, logout redirect)")
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

// portalAuth is the session machinery New wires into the middleware and
// the sign-in and decision handlers (built in routes.go).
type portalAuth struct {
	sessions *session.Manager
	// origin is the portal's own origin (scheme://host) from PublicURL,
	// the only Origin a state-changing request may come from.
	origin string
	// exempt are path prefixes that are not browser forms (machine
	// endpoints, the mounted demo IdP), so neither sessions nor CSRF apply.
	exempt []string
	// rp tells the IdP origins form posts may redirect to; csp caches
	// the policy allowing them once they are known.
	rp  RelyingParty
	mu  sync.Mutex
	csp string
}

// contentSecurityPolicy is the portal's policy with the identity
// provider's origins allowed as form targets (sign-in and logout forms
// redirect there). While the provider has not answered discovery they are
// unknown: the plain policy applies and the next response asks again.
func (p *portalAuth) contentSecurityPolicy() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.csp != "" {
		return p.csp
	}
	origins, err := idpOrigins(p.rp, p.origin)
	if err != nil {
		return contentSecurityPolicy
	}
	p.csp = policyWithFormTargets(origins)
	return p.csp
}

// newPortalAuth builds the session manager from opts (validated).
func newPortalAuth(opts Options) (*portalAuth, error) {
	a := opts.Portal
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
	cookie := session.CookieFor(pub, opts.TLS)
	if !cookie.Secure() {
		opts.Logger.Warn("public_url is plain http on an address other than this machine's: the session cookie cannot be Secure, so sign-ins and sessions travel unencrypted; serve the portal over https",
			"public_url", opts.PublicURL)
	}
	mgr := session.NewManager(store, cookie)
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
	p.rp = a.RP
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
