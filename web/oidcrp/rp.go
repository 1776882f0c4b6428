package oidcrp

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// RP is a configured relying party for one provider. It is safe for
// concurrent use and holds no per-login state.
type RP struct {
	cfg      Config
	provider *oidc.Provider
	oauth    oauth2.Config

	// keys is the provider's signing keys as last fetched, and the ID
	// token verifier over them; replaced after Config.KeySetMaxAge (see
	// verifierAt).
	keysMu   sync.Mutex
	verifier *oidc.IDTokenVerifier
	keysAt   time.Time
	jwksURL  string

	endSession string
	meta       providerMetadata
}

// providerMetadata is the part of the discovery document go-oidc does not
// expose directly.
type providerMetadata struct {
	JWKSURI                  string   `json:"jwks_uri"`
	EndSessionEndpoint       string   `json:"end_session_endpoint"`
	ACRValuesSupported       []string `json:"acr_values_supported"`
	ClaimsSupported          []string `json:"claims_supported"`
	ClaimsParameterSupported bool     `json:"claims_parameter_supported"`
}

// New validates cfg and runs discovery against the issuer. It fails with
// ErrDiscovery when the issuer cannot be reached or its discovery document
// names another issuer, so a misconfigured portal stops at start-up rather
// than at the first login.
func New(ctx context.Context, cfg Config) (*RP, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx = oidc.ClientContext(ctx, c.HTTPClient)
	provider, err := oidc.NewProvider(ctx, c.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidcrp: discovery at %s (is the issuer URL right and reachable?): %w: %w", c.Issuer, ErrDiscovery, err)
	}
	var meta providerMetadata
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("oidcrp: read discovery document of %s: %w: %w", c.Issuer, ErrDiscovery, err)
	}
	rp := &RP{
		cfg:      c,
		provider: provider,
		verifier: provider.VerifierContext(ctx, verifierConfig(c)),
		keysAt:   c.Now(),
		jwksURL:  meta.JWKSURI,
		oauth: oauth2.Config{
			ClientID:     c.ClientID,
			ClientSecret: c.ClientSecret,
			Endpoint:     provider.Endpoint(),
			RedirectURL:  c.RedirectURL,
			Scopes:       c.Scopes,
		},
		endSession: meta.EndSessionEndpoint,
		meta:       meta,
	}
	return rp, nil
}

// verifierConfig checks issuer, signature and expiry. The audience is
// checked by verifyIDToken so that a token for another client fails with
// ErrAudience rather than a generic error.
func verifierConfig(c Config) *oidc.Config {
	return &oidc.Config{ClientID: c.ClientID, SkipClientIDCheck: true, Now: c.Now}
}

// verifierAt returns the ID token verifier, over a freshly fetched key set
// once the cached one is older than Config.KeySetMaxAge. go-oidc refetches
// the provider's keys only when a token names a key it does not know, so
// without this a key the provider withdrew (say, after a compromise) would
// stay trusted for as long as the process runs and no new key appears.
func (rp *RP) verifierAt(ctx context.Context, now time.Time) *oidc.IDTokenVerifier {
	rp.keysMu.Lock()
	defer rp.keysMu.Unlock()
	if rp.jwksURL != "" && now.Sub(rp.keysAt) > rp.cfg.KeySetMaxAge {
		keys := oidc.NewRemoteKeySet(oidc.ClientContext(context.WithoutCancel(ctx), rp.cfg.HTTPClient), rp.jwksURL)
		rp.verifier = oidc.NewVerifier(rp.cfg.Issuer, keys, verifierConfig(rp.cfg))
		rp.keysAt = now
	}
	return rp.verifier
}

// Issuer is the verified issuer URL; with Identity.Subject it identifies
// a person (a sub is unique only per issuer).
func (rp *RP) Issuer() string { return rp.cfg.Issuer }

// ACRValuesSupported is what the provider advertises in discovery (often
// nothing). The portal can use it to warn when its step-up policy asks for
// an acr the IdP never mentions.
func (rp *RP) ACRValuesSupported() []string { return slices.Clone(rp.meta.ACRValuesSupported) }

// ClaimsSupported is the discovery document's claims_supported: the
// claims the provider says it can supply (nil when it does not say).
func (rp *RP) ClaimsSupported() []string { return slices.Clone(rp.meta.ClaimsSupported) }

// ClaimsParameterSupported is the discovery document's
// claims_parameter_supported: whether the provider honours the claims
// parameter (which asks for amr, or marks acr essential).
func (rp *RP) ClaimsParameterSupported() bool { return rp.meta.ClaimsParameterSupported }

// EndSessionURL builds an RP-initiated logout URL when the provider
// advertises end_session_endpoint; ok is false otherwise, and the portal
// then only ends its own session. idTokenHint should be the RawIDToken of
// the session being ended; postLogoutRedirect must be registered at the
// IdP. Either may be empty.
func (rp *RP) EndSessionURL(idTokenHint, postLogoutRedirect string) (string, bool) {
	if rp.endSession == "" {
		return "", false
	}
	u, err := url.Parse(rp.endSession)
	if err != nil {
		return "", false
	}
	q := u.Query()
	if idTokenHint != "" {
		q.Set("id_token_hint", idTokenHint)
	}
	if postLogoutRedirect != "" {
		q.Set("post_logout_redirect_uri", postLogoutRedirect)
	}
	q.Set("client_id", rp.cfg.ClientID)
	u.RawQuery = q.Encode()
	return u.String(), true
}
