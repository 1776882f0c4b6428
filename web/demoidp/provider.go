package demoidp

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// Provider is a running demo OpenID Provider. It is an http.Handler for
// every path under its issuer's path (see PathPrefix).
type Provider struct {
	cfg      settings
	store    *store
	sessions *sessionStore
	cookies  cookieJar
	op       *op.Provider
	pages    *pages
	mux      *http.ServeMux
}

// New builds a provider: it hashes the users' passwords, generates a fresh
// signing key and wires the op library to the in-memory storage and the
// login UI. Nothing is started; serve the Provider with any HTTP server.
func New(cfg Config) (*Provider, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	creds, err := newCredentialChecker(cfg.Users)
	if err != nil {
		return nil, err
	}
	key, err := newSigningKey()
	if err != nil {
		return nil, err
	}
	clients := make(map[string]*registeredClient, len(cfg.Clients))
	for _, c := range cfg.Clients {
		if err := c.validate(); err != nil {
			return nil, fmt.Errorf("demoidp: %w", err)
		}
		if _, dup := clients[c.ID]; dup {
			return nil, fmt.Errorf("demoidp: duplicate client id %q", c.ID)
		}
		clients[c.ID] = newRegisteredClient(c, s.issuer+"/login", s.tokenTTL)
	}
	services, err := registerServiceClients(cfg.ServiceClients, clients, s.tokenTTL)
	if err != nil {
		return nil, err
	}
	pg, err := parsePages()
	if err != nil {
		return nil, err
	}
	p := &Provider{
		cfg: s,
		store: &store{
			cfg:      s,
			key:      key,
			creds:    creds,
			clients:  clients,
			services: services,
			requests: make(map[string]*authRequest),
			codes:    make(map[string]codeGrant),
			tokens:   make(map[string]accessToken),
		},
		sessions: newSessionStore(s.sessionTTL, s.now),
		cookies:  cookieJar{path: s.prefix + "/", secure: s.issuerURL.Scheme == "https"},
		pages:    pg,
	}

	// The op library encrypts codes and access tokens with this key; a
	// fresh one per start means nothing issued before a restart works.
	var cryptoKey [32]byte
	if _, err := rand.Read(cryptoKey[:]); err != nil {
		return nil, fmt.Errorf("demoidp: generate code encryption key: %w", err)
	}
	opCfg := &op.Config{
		CryptoKey:                cryptoKey,
		DefaultLogoutRedirectURI: s.issuer + "/logged-out",
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		SupportedUILocales:       []language.Tag{language.English},
		SupportedClaims:          append(append([]string(nil), op.DefaultSupportedClaims...), "groups"),
		SupportedScopes:          []string{"openid", "profile", "email", scopeGroups},
	}
	opts := []op.Option{op.WithCORSOptions(nil)}
	if s.issuerURL.Scheme == "http" {
		opts = append(opts, op.WithAllowInsecure())
	}
	p.op, err = op.NewProvider(opCfg, p.store, op.StaticIssuer(s.issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("demoidp: create provider: %w", err)
	}
	p.mux = p.routes()
	return p, nil
}

// Issuer is the issuer URL, as relying parties must configure it.
func (p *Provider) Issuer() string { return p.cfg.issuer }

// PathPrefix is the issuer URL's path ("" or e.g. "/idp"). Mount the
// provider so that it sees the full, unstripped request path, for example
// mux.Handle(p.PathPrefix()+"/", p) or, in echo,
// e.Any(p.PathPrefix()+"/*", echo.WrapHandler(p)).
func (p *Provider) PathPrefix() string { return p.cfg.prefix }

// routes wires the login UI and the wrappers in front of the op library's
// own router, which serves everything else (authorize, token, userinfo,
// keys, end_session after the wrapper).
func (p *Provider) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", p.index)
	m.HandleFunc("GET /login", p.loginPage)
	m.HandleFunc("POST /login/password", p.loginPassword)
	m.HandleFunc("POST /login/otp", p.loginOTP)
	m.HandleFunc("GET /login/otp/qr.png", p.totpQR)
	m.HandleFunc("GET /logged-out", p.loggedOut)
	m.HandleFunc("GET /static/demoidp.css", p.pages.serveStylesheet)
	m.HandleFunc("GET /static/favicon.svg", p.pages.serveIcon)
	m.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	m.HandleFunc(p.op.AuthorizationEndpoint().Relative(), p.authorize)
	m.HandleFunc(p.op.EndSessionEndpoint().Relative(), p.endSession)
	m.Handle("/", p.op)
	return m
}

// ServeHTTP implements http.Handler. It expects the full request path
// (prefix included), strips the prefix and answers 404 outside it.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if p.cfg.prefix == "" {
		p.mux.ServeHTTP(w, r)
		return
	}
	if r.URL.Path == p.cfg.prefix {
		http.Redirect(w, r, p.cfg.prefix+"/", http.StatusFound)
		return
	}
	if !strings.HasPrefix(r.URL.Path, p.cfg.prefix+"/") {
		http.NotFound(w, r)
		return
	}
	http.StripPrefix(p.cfg.prefix, p.mux).ServeHTTP(w, r)
}

// index tells a person who opens the issuer URL what this is.
func (p *Provider) index(w http.ResponseWriter, _ *http.Request) {
	render(w, p.pages.message, http.StatusOK, p.page("Demo identity provider", pageData{
		Message: "This is the identity provider that `countersign demo` starts. Open the Countersign portal to sign in.",
	}))
}

// page fills the fields every page shares.
func (p *Provider) page(title string, d pageData) pageData {
	d.Title = title
	d.Prefix = p.cfg.prefix
	d.Issuer = p.cfg.issuer
	return d
}
