package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/countersign/countersign/web/session"
)

// registerRoutes is the one list of what the portal answers. Handlers are
// built here from Options, so each gets exactly the dependencies it names.
func registerRoutes(e *echo.Echo, opts Options, a *assets, pa *portalAuth) {
	getOrHead := []string{http.MethodGet, http.MethodHead}

	// Probes: HEAD too, because some load balancers probe with it.
	health := NewHealth(opts.DB, opts.Logger)
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

	if opts.Grants != nil {
		e.Match(getOrHead, "/.well-known/jwks.json", opts.Grants.JWKS)
		e.POST("/api/v1/grants/redeem", opts.Grants.Redeem)
	}
	if opts.ExampleExecutor != nil {
		e.POST(ExampleExecutorPath, echo.WrapHandler(opts.ExampleExecutor))
	}

	if opts.DemoIdP != nil {
		// The provider serves every path under its prefix itself; echo
		// hands it the full, unstripped path.
		idp := echo.WrapHandler(opts.DemoIdP)
		e.Any(opts.DemoIdPPrefix, idp)
		e.Any(opts.DemoIdPPrefix+"/*", idp)
	}

	if opts.MattermostActions != nil {
		// Machine endpoint: no session, no CSRF (exempt under /hooks/);
		// each click proves itself with a signed context.
		e.POST("/hooks/mattermost/action", opts.MattermostActions.Action)
	}
	registerChatRoutes(e, opts.Chat)

	if pa == nil {
		// Without sign-in there is nothing to review; the landing page
		// says sign-in comes with the portal.
		e.GET("/", NewHome("").Show)
		return
	}
	registerPortalRoutes(e, opts, pa)
}

// registerPortalRoutes adds sign-in, the request pages and decisions.
// Sessions and CSRF apply to all of them (global middleware, see New);
// requireUser guards what only signed-in people may see or do.
func registerPortalRoutes(e *echo.Echo, opts Options, pa *portalAuth) {
	e.GET("/login", pa.auth.Login)
	e.GET("/auth/callback", pa.auth.Callback)
	e.POST("/logout", pa.auth.Logout)

	// The start page: the dashboard for a signed-in person, the landing
	// page with a sign-in link otherwise. Anonymous visitors are not sent
	// to the IdP from here, so that after logging out (where the IdP may
	// keep its own session) they are not silently signed in again.
	home := NewHome("/login")
	if opts.Requests != nil {
		e.GET("/", func(c echo.Context) error {
			if _, ok := session.UserFrom(c); ok {
				return opts.Requests.Dashboard(c)
			}
			return home.Show(c)
		})
		e.GET("/requests", opts.Requests.List, requireUser)
		e.GET("/requests/:id", opts.Requests.Show, requireUser)
		e.GET("/mm/:post_id", opts.Requests.FromPost, requireUser)
	} else {
		e.GET("/", home.Show)
	}
	if pa.decisions != nil {
		e.POST("/requests/:id/decision", pa.decisions.Submit, requireUser)
	}
	if opts.Integrity != nil {
		e.GET("/audit/integrity", opts.Integrity.Show, requireUser)
	}
	if opts.Windows != nil {
		e.GET("/windows", opts.Windows.Show, requireUser)
	}
	registerAuditRoutes(e, opts.Audit)
}
