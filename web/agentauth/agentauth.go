// Package agentauth authenticates agents calling the Countersign API: with
// a per-agent API key (cs_<id>_<secret>, see models/agents) or with an
// OAuth client-credentials access token (a JWT) from the company IdP,
// verified with go-oidc against the IdP's published keys, issuer and
// audience, and mapped by its client id to a registered agent.
package agentauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/countersign/countersign/models/agents"
)

// ErrRefused means the credential is missing, malformed, invalid, expired,
// revoked or names no registered agent. The API answers 401 without saying
// which.
var ErrRefused = errors.New("agent credential refused")

// ErrUnavailable means the credential could not be checked now (the
// database holding the keys did not answer): not the agent's fault, so
// the API answers 503 and the agent tries again, instead of a 401 that
// would say its key is bad.
var ErrUnavailable = errors.New("agent credential cannot be checked now")

// KeyVerifier checks API keys (*agents.Keys satisfies it).
type KeyVerifier interface {
	Verify(ctx context.Context, presented string) (*agents.Agent, *agents.Key, error)
}

// Config configures an Authenticator.
type Config struct {
	// Keys checks API keys; nil refuses them.
	Keys KeyVerifier
	// Registry maps client ids to agents.
	Registry *agents.Registry
	// Issuer is the IdP issuing client-credentials tokens; empty refuses
	// JWTs.
	Issuer string
	// Audience must be among the token's aud values (the API's identifier
	// at the IdP). Required with Issuer.
	Audience string
	// HTTPClient reaches the IdP (discovery and keys); nil means the
	// default client.
	HTTPClient *http.Client
}

// Authenticator checks agent credentials.
type Authenticator struct {
	keys     KeyVerifier
	registry *agents.Registry
	verifier *oidc.IDTokenVerifier
}

// New builds an Authenticator. With an issuer it discovers the IdP now
// (ctx bounds discovery; keys are fetched later as tokens arrive, through
// the same HTTP client).
func New(ctx context.Context, cfg Config) (*Authenticator, error) {
	a := &Authenticator{keys: cfg.Keys, registry: cfg.Registry}
	if cfg.Issuer == "" {
		return a, nil
	}
	if cfg.Audience == "" {
		return nil, errors.New("agentauth: an audience is required to accept IdP tokens")
	}
	if cfg.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, cfg.HTTPClient)
	}
	p, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("agentauth: discover %s: %w", cfg.Issuer, err)
	}
	// The key set keeps the context it is built with for later fetches.
	keysCtx := context.WithoutCancel(ctx)
	a.verifier = p.VerifierContext(keysCtx, &oidc.Config{ClientID: cfg.Audience})
	return a, nil
}

// Authenticate checks the Authorization header ("Bearer <credential>") and
// returns the agent it belongs to.
func (a *Authenticator) Authenticate(ctx context.Context, authorization string) (*agents.Agent, error) {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || cred == "" {
		return nil, fmt.Errorf("%w: no bearer credential", ErrRefused)
	}
	cred = strings.TrimSpace(cred)
	if strings.HasPrefix(cred, agents.KeyPrefix) {
		if a.keys == nil {
			return nil, fmt.Errorf("%w: API keys are not accepted", ErrRefused)
		}
		ag, _, err := a.keys.Verify(ctx, cred)
		switch {
		case errors.Is(err, agents.ErrBadKey):
			return nil, fmt.Errorf("%w: %w", ErrRefused, err)
		case err != nil:
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return ag, nil
	}
	return a.fromToken(ctx, cred)
}

// fromToken verifies a client-credentials JWT and maps its client to an
// agent: client_id (RFC 9068), else azp, else sub.
func (a *Authenticator) fromToken(ctx context.Context, raw string) (*agents.Agent, error) {
	if a.verifier == nil {
		return nil, fmt.Errorf("%w: IdP tokens are not accepted", ErrRefused)
	}
	tok, err := a.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: token: %w", ErrRefused, err)
	}
	var claims struct {
		ClientID string `json:"client_id"`
		AZP      string `json:"azp"`
	}
	if err := tok.Claims(&claims); err != nil {
		return nil, fmt.Errorf("%w: token claims: %w", ErrRefused, err)
	}
	client := claims.ClientID
	if client == "" {
		client = claims.AZP
	}
	if client == "" {
		client = tok.Subject
	}
	ag, ok := a.registry.ByClientID(client)
	if !ok {
		return nil, fmt.Errorf("%w: client %q is not a registered agent", ErrRefused, client)
	}
	return ag, nil
}
