package handlers

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/models/audit/search"
	"github.com/countersign/countersign/models/comment"
	"github.com/countersign/countersign/web/session"
)

// registerRoutes is the one list of what the portal answers, and the one
// place its handlers are built: each from the services in opts that it
// names, nothing else.
func registerRoutes(e *echo.Echo, opts Options, a *assets, pa *portalAuth) error {
	getOrHead := []string{http.MethodGet, http.MethodHead}

	// Probes: HEAD too, because some load balancers probe with it.
	health := NewHealth(opts.DB, opts.Logger)
	if p := opts.Portal; p != nil {
		// A relying party still waiting for its provider (oidcrp.Deferred)
		// makes the replica not ready until the provider answers.
		if idp, ok := p.RP.(Readiness); ok {
			health = health.WithIdentityProvider(idp)
		}
	}
	e.Match(getOrHead, "/healthz", health.Live)
	e.Match(getOrHead, "/readyz", health.Ready)

	// Metrics come from the registry passed in, never the global one.
	// Operators should keep /metrics off the public internet (proxy rule or
	// network policy); it reveals traffic patterns, not secrets.
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{})))

	e.Match(getOrHead, assetURLPrefix+"*", a.serve)

	if opts.AuditKey != "" {
		e.Match(getOrHead, AuditKeyPath, NewAuditKey(opts.AuditKey).Show)
	}

	if g := opts.Grants; g != nil {
		grants := NewGrants(g.Grants, g.Executors)
		e.Match(getOrHead, "/.well-known/jwks.json", grants.JWKS)
		e.POST("/api/v1/grants/redeem", grants.Redeem)
	}
	if opts.ExampleExecutor != nil {
		e.POST(ExampleExecutorPath, echo.WrapHandler(opts.ExampleExecutor))
	}

	if opts.MCP != nil {
		e.Any(MCPPath, echo.WrapHandler(opts.MCP))
	}

	if opts.DemoIdP != nil {
		// The provider serves every path under its prefix itself; echo
		// hands it the full, unstripped path.
		idp := echo.WrapHandler(opts.DemoIdP)
		e.Any(opts.DemoIdPPrefix, idp)
		e.Any(opts.DemoIdPPrefix+"/*", idp)
	}

	if err := registerChatRoutes(e, opts); err != nil {
		return err
	}

	if pa == nil {
		// Without sign-in there is nothing to review; the landing page
		// says sign-in comes with the portal.
		e.GET("/", NewHome("").Show)
		return nil
	}
	registerPortalRoutes(e, opts, pa)
	return nil
}

// registerChatRoutes adds the slash command, the agent API and the chat
// message buttons: machine endpoints (no session, no CSRF: they are
// exempt under /hooks/ and /api/), each proving itself with its own
// credential.
func registerChatRoutes(e *echo.Echo, opts Options) error {
	c := opts.Chat
	if c == nil {
		return nil
	}
	if c.Command != nil {
		o := *c.Command
		o.PublicURL, o.Logger = opts.PublicURL, opts.Logger
		cmd, err := NewMattermostCommand(c.Client, c.Approvals, o)
		if err != nil {
			return fmt.Errorf("server: slash command: %w", err)
		}
		e.POST(CommandPath, cmd.Handle)
	}
	if ag := c.Agents; ag != nil {
		o := ag.Options
		o.PublicURL, o.Logger = opts.PublicURL, opts.Logger
		api := NewAgentAPI(ag.Auth, c.Client, c.Approvals, ag.Records, ag.Records, o)
		e.POST("/api/v1/requests", api.Create)
		e.GET("/api/v1/requests/:id", api.Show)
		e.POST("/api/v1/requests/:id/grant/redeem", api.RedeemGrant)
		e.POST("/api/v1/requests/:id/result", api.ReportResult)
	}
	if c.Buttons != nil {
		// Each click proves itself with a signed context.
		e.POST("/hooks/mattermost/action", NewMattermostActions(c.Buttons).Action)
	}
	return nil
}

// registerPortalRoutes adds sign-in, the request pages, decisions and the
// audit and policy pages. *session.Manager and CSRF apply to all of them (global
// middleware, see New); requireUser guards what only signed-in people may
// see or do.
func registerPortalRoutes(e *echo.Echo, opts Options, pa *portalAuth) {
	p := opts.Portal
	decisions := NewDecisions(p.Approvals, p.RP, pa.sessions, DecisionsConfig{Now: p.Now, Logger: opts.Logger})
	ac := AuthConfig{
		Mapping:   session.Mapping{Roles: p.Roles, UsernameClaim: p.UsernameClaim, PolicyRoles: p.PolicyRoles},
		PublicURL: opts.PublicURL,
		Logger:    opts.Logger,
	}
	ac.Again = p.Approvals.StepUpFor(nil)
	if p.StepUpAtSignIn {
		rule := p.Approvals.StepUpFor(nil)
		ac.SignInStepUp = &rule
	}
	auth := NewAuth(p.RP, pa.sessions, decisions, ac)
	e.GET("/login", auth.Login)
	e.GET("/auth/callback", auth.Callback)
	e.POST("/logout", auth.Logout)
	e.POST("/login/again", auth.Again, requireUser)

	comments := comment.New(p.Store, p.Approvals, comment.Config{Notes: p.CommentNotes, Now: p.Now})
	ro := RequestsOptions{
		PublicURL: opts.PublicURL, MattermostURL: p.MattermostURL, Now: p.Now,
		Executions: p.Executions, Grants: p.Grants, Receipts: receiptsOf(p.Checkpoints),
		Comments: comments,
	}
	if tr, ok := p.Grants.(TermsReader); ok {
		ro.Terms = tr
	}
	if p.Policy != nil {
		ro.Catalogue = p.Policy.State.Policy
	}
	if p.Passkeys != nil {
		ro.Passkeys = p.Passkeys
	}
	requests := NewRequests(p.Approvals, ro)
	// The start page: the dashboard for a signed-in person, the landing
	// page with a sign-in link otherwise. Anonymous visitors are not sent
	// to the IdP from here, so that after logging out (where the IdP may
	// keep its own session) they are not silently signed in again.
	home := NewHome("/login")
	e.GET("/", func(c echo.Context) error {
		if _, ok := session.UserFrom(c); ok {
			return requests.Dashboard(c)
		}
		return home.Show(c)
	})
	e.GET("/requests", requests.List, requireUser)
	e.GET("/requests/:id", requests.Show, requireUser)
	e.GET("/mm/:post_id", requests.FromPost, requireUser)
	e.POST("/requests/:id/decision", decisions.Submit, requireUser)
	talk := NewTalk(comments, p.Approvals, opts.Logger)
	e.POST("/requests/:id/comments", talk.Comment, requireUser)
	e.POST("/requests/:id/withdraw", talk.Withdraw, requireUser)
	registerPasskeyRoutes(e, opts, decisions)

	if p.Policy != nil {
		e.GET("/windows", NewWindows(p.Policy.Windows, p.Policy.State, p.Now).Show, requireUser)
	}

	auditOpts := AuditLogOptions{Requests: p.Approvals, MattermostURL: p.MattermostURL, Now: p.Now}
	if p.Checkpoints != nil {
		auditOpts.Prover = p.Checkpoints
		integrity := p.Integrity
		if integrity == nil {
			integrity = proof.NewIntegrityCache(p.Checkpoints, 0)
		}
		e.GET("/audit/integrity", NewIntegrity(integrity, IntegrityOptions{Now: p.Now, CheckpointInterval: p.CheckpointInterval}).Show, requireUser)
	}
	log := NewAuditLog(search.NewSearcher(p.Store), auditOpts)
	e.GET("/audit", log.Search, requireUser)
	e.GET("/audit/export.csv", log.ExportCSV, requireUser)
	e.GET("/audit/export.jsonl", log.ExportJSONL, requireUser)
	e.GET("/audit/bundle", log.Bundle, requireUser)
	e.GET("/audit/receipt/:seq", log.Receipt, requireUser)
	e.GET("/audit/receipt/:seq/view", log.ReceiptPage, requireUser)
}

// receiptsOf is the decision-event finder of the request pages: nil
// without checkpoints (a nil *proof.Checkpointer must not become a
// non-nil interface).
func receiptsOf(cp *proof.Checkpointer) *proof.Checkpointer {
	if cp == nil {
		return nil
	}
	return cp
}
