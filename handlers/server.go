package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/labstack/gommon/bytes"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/countersign/countersign/static"
)

// defaultBodyLimit caps request bodies. Approval forms and API calls are
// small; a megabyte leaves room for a long conversation snapshot from an
// agent while stopping a client from streaming gigabytes into a handler.
const defaultBodyLimit = "1M"

// Options is everything New builds the server from: settings, and the
// domain's services and the adapters — never handlers: routes.go builds
// every handler from these, in one place. It is passed by value from the
// command's configuration; there is no package state.
type Options struct {
	// Logger receives the JSON request log, errors and panics. Nil means a
	// JSON logger on stderr.
	Logger *slog.Logger
	// AccessLogger receives only the one line per request, so a command
	// can send it elsewhere (the demo writes it to a file, keeping its
	// printed credentials on screen) while errors stay on Logger. Nil
	// means Logger.
	AccessLogger *slog.Logger
	// DB is asked by the readiness probe whether it can take changes.
	// Required.
	DB Readiness
	// Registry is where the HTTP metrics are registered and what /metrics
	// exposes. Required: the global default registry is never used, so two
	// servers in one process (tests) never collide.
	Registry *prometheus.Registry
	// PublicURL is the base URL people reach the portal at, e.g.
	// http://127.0.0.1:8080. Optional; when set it must be an absolute
	// http(s) URL. Absolute links (deep links, OIDC redirects) derive from it.
	PublicURL string
	// TLS is true when the portal is served over https, directly or behind
	// a TLS-terminating proxy. It turns on Strict-Transport-Security, which
	// must not be sent for a plain-http deployment.
	TLS bool
	// BodyLimit is the largest request body accepted, e.g. "1M" or "512K".
	// Empty means 1M.
	BodyLimit string
	// Version is the running build, shown in page footers.
	Version string
	// AuditKey is the verifier key of the signed audit checkpoints
	// ("origin+hash+base64"), published at AuditKeyPath so auditors can
	// fetch it. Empty publishes nothing.
	AuditKey string

	// Portal turns on the signed-in portal: OIDC sign-in, sessions, CSRF
	// protection of every form, the request pages, step-up decisions, the
	// audit and policy pages. Nil serves only the public pages (probes,
	// metrics, static files, the landing page). Needs PublicURL.
	Portal *Portal
	// Grants serves the grant keys at /.well-known/jwks.json and the
	// executors' POST /api/v1/grants/redeem; nil serves neither.
	Grants *GrantEndpoints
	// Chat is the Mattermost slash command, the agent API and the buttons
	// of Countersign's chat messages; nil serves none of them.
	Chat *Chat

	// DemoIdP, when set, is the demo OpenID provider (*demoidp.Provider),
	// mounted at DemoIdPPrefix (e.g. "/idp", its issuer's path) with the
	// full path, outside the portal's sessions and CSRF checks. For
	// `countersign demo` and tests only.
	DemoIdP       http.Handler
	DemoIdPPrefix string
	// ExampleExecutor, when set, is mounted at ExampleExecutorPath (the
	// demo's executor; see web/exampleexecutor).
	ExampleExecutor http.Handler
	// MCP, when set, is the MCP gateway (*mcpgateway.Gateway), mounted at
	// MCPPath: a machine endpoint where agents prove themselves with
	// their own credential.
	MCP http.Handler
}

// MCPPath is where Options.MCP is mounted (under /api/, so outside the
// portal's sessions and CSRF checks, like the agent API).
const MCPPath = "/api/v1/mcp"

// ExampleExecutorPath is where Options.ExampleExecutor is mounted.
const ExampleExecutorPath = "/example-executor"

// withDefaults fills optional fields and rejects unusable ones, so New fails
// at start-up rather than on the first request.
func (o Options) withDefaults() (Options, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if o.AccessLogger == nil {
		o.AccessLogger = o.Logger
	}
	if o.DB == nil {
		return o, errors.New("server: options: DB is required (readiness probe)")
	}
	if o.Registry == nil {
		return o, errors.New("server: options: Registry is required (metrics)")
	}
	if o.BodyLimit == "" {
		o.BodyLimit = defaultBodyLimit
	}
	if n, err := bytes.Parse(o.BodyLimit); err != nil || n <= 0 {
		return o, fmt.Errorf("server: options: body limit %q: want a size such as 1M or 512K", o.BodyLimit)
	}
	if err := o.validateAuth(); err != nil {
		return o, err
	}
	if err := o.validateDemoIdP(); err != nil {
		return o, err
	}
	if o.PublicURL != "" {
		u, err := url.Parse(o.PublicURL)
		if err != nil {
			return o, fmt.Errorf("server: options: public URL: %w", err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return o, fmt.Errorf("server: options: public URL %q: want an absolute http(s) URL", o.PublicURL)
		}
	}
	return o, nil
}

// New returns a fully wired echo instance: middleware, error handler, static
// assets and routes. It registers the HTTP metrics on opts.Registry, so call
// it once per registry.
//
// Middleware order matters and is, outermost first:
//
//  1. request id       - everything after it, including logs and error pages, can name the request
//  2. page chrome      - error pages rendered by any later step get the footer and stylesheets
//  3. security headers - set before anything writes, so even 413s and panics carry them
//  4. request log      - sees the final status because it settles errors first
//  5. metrics          - same, labelled by route pattern
//  6. recover          - turns a panic into the generic 500 page, inside log and metrics so both count it
//  7. body limit       - closest to the handlers that read bodies
//
// With the portal, two more follow:
//
//  8. session          - loads the browser's server-side session and user
//  9. CSRF             - refuses state-changing requests not from the portal's own forms
func New(opts Options) (*echo.Echo, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	assets, err := loadAssets(static.FS)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	metrics, err := newHTTPMetrics(opts.Registry)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}

	var pa *portalAuth
	csp := func() string { return contentSecurityPolicy }
	if opts.Portal != nil {
		if pa, err = newPortalAuth(opts); err != nil {
			return nil, err
		}
		csp = pa.contentSecurityPolicy
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	// Take the peer address as the client IP. X-Forwarded-For is only
	// trustworthy behind a known proxy; configuring that is a deployment
	// decision, not a default.
	e.IPExtractor = echo.ExtractIPDirect()
	e.HTTPErrorHandler = newErrorHandler(opts.Logger)

	e.Use(
		requestIDs(),
		withChrome(assets.chrome(opts.Version)),
		securityHeaders(opts.TLS, csp),
		requestLog(opts.AccessLogger),
		metrics.middleware(),
		recoverPanics(opts.Logger),
		middleware.BodyLimit(opts.BodyLimit),
	)

	if pa != nil {
		e.Use(pa.loadSession(), pa.csrfProtect())
	}

	if err := registerRoutes(e, opts, assets, pa); err != nil {
		return nil, err
	}
	return e, nil
}
