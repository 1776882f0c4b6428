package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/countersign/countersign/handlers"
)

// registerRoutes is the one list of what the portal answers. Handlers are
// built here from Options, so each gets exactly the dependencies it names.
func registerRoutes(e *echo.Echo, opts Options, a *assets) {
	getOrHead := []string{http.MethodGet, http.MethodHead}

	// Probes: HEAD too, because some load balancers probe with it.
	health := handlers.NewHealth(opts.DB, opts.Logger)
	e.Match(getOrHead, "/healthz", health.Live)
	e.Match(getOrHead, "/readyz", health.Ready)

	// Metrics come from the registry passed in, never the global one.
	// Operators should keep /metrics off the public internet (proxy rule or
	// network policy); it reveals traffic patterns, not secrets.
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{})))

	e.Match(getOrHead, assetURLPrefix+"*", a.serve)

	// Sign-in arrives with the portal's OIDC login; until then the landing
	// page says so instead of linking to nothing.
	home := handlers.NewHome("")
	e.GET("/", home.Show)
}
