package demoidp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// ServiceClient is a machine client (an agent) that gets access tokens
// with the OAuth client-credentials grant: no user, no browser. Its
// tokens are JWTs signed with the provider's key, carrying client_id and
// the configured audience, so a resource server verifies them offline.
type ServiceClient struct {
	// ID is the client_id; it is also the token's subject.
	ID string
	// Secret is the client_secret; New keeps only its digest.
	Secret string
	// Audience lists the aud values of issued tokens (the API's
	// identifier, e.g. "countersign-api").
	Audience []string
}

// validate refuses a service client that could not work.
func (c ServiceClient) validate() error {
	if c.ID == "" {
		return errors.New("service client id is empty")
	}
	if len(c.Secret) < 16 {
		return fmt.Errorf("service client %q: secret must be at least 16 characters", c.ID)
	}
	if len(c.Audience) == 0 {
		return fmt.Errorf("service client %q: at least one audience is required", c.ID)
	}
	return nil
}

// serviceClient is a ServiceClient as the op library sees it.
type serviceClient struct {
	id       string
	secret   [32]byte
	audience []string
	tokenTTL time.Duration
}

// registerServiceClients validates and indexes the service clients; ids
// must not collide with each other or with browser clients.
func registerServiceClients(list []ServiceClient, browser map[string]*registeredClient, ttl time.Duration) (map[string]*serviceClient, error) {
	out := make(map[string]*serviceClient, len(list))
	for _, c := range list {
		if err := c.validate(); err != nil {
			return nil, fmt.Errorf("demoidp: %w", err)
		}
		if _, dup := out[c.ID]; dup || browser[c.ID] != nil {
			return nil, fmt.Errorf("demoidp: duplicate client id %q", c.ID)
		}
		out[c.ID] = &serviceClient{id: c.ID, secret: secretDigest(c.Secret), audience: slices.Clone(c.Audience), tokenTTL: ttl}
	}
	return out, nil
}

// ClientCredentials implements op.ClientCredentialsStorage: the secret is
// compared as a digest in constant time; an unknown client costs the same.
func (s *store) ClientCredentials(_ context.Context, clientID, secret string) (op.Client, error) {
	want := secretDigest("")
	c, known := s.services[clientID]
	if known {
		want = c.secret
	}
	if !secretMatches(want, secret) || !known {
		return nil, errors.New("client authentication failed")
	}
	return c, nil
}

// ClientCredentialsTokenRequest implements op.ClientCredentialsStorage.
func (s *store) ClientCredentialsTokenRequest(_ context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	c, ok := s.services[clientID]
	if !ok {
		return nil, fmt.Errorf("client: %w", errNotFound)
	}
	now := s.cfg.now()
	return &oidc.JWTTokenRequest{
		Issuer: clientID, Subject: clientID, Audience: slices.Clone(c.audience), Scopes: scopes,
		IssuedAt: oidc.FromTime(now), ExpiresAt: oidc.FromTime(now.Add(c.tokenTTL)),
	}, nil
}

// GetID implements op.Client.
func (c *serviceClient) GetID() string { return c.id }

// RedirectURIs implements op.Client: none, there is no browser.
func (c *serviceClient) RedirectURIs() []string { return nil }

// PostLogoutRedirectURIs implements op.Client: none.
func (c *serviceClient) PostLogoutRedirectURIs() []string { return nil }

// ApplicationType implements op.Client.
func (c *serviceClient) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }

// AuthMethod implements op.Client: client_secret_basic (post also works).
func (c *serviceClient) AuthMethod() oidc.AuthMethod { return oidc.AuthMethodBasic }

// ResponseTypes implements op.Client: none, no authorization endpoint.
func (c *serviceClient) ResponseTypes() []oidc.ResponseType { return nil }

// GrantTypes implements op.Client: client_credentials only.
func (c *serviceClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeClientCredentials}
}

// LoginURL implements op.Client; never used.
func (c *serviceClient) LoginURL(string) string { return "" }

// AccessTokenType implements op.Client: JWTs, verifiable with the
// provider's published keys.
func (c *serviceClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }

// IDTokenLifetime implements op.Client; no ID tokens are issued.
func (c *serviceClient) IDTokenLifetime() time.Duration { return c.tokenTTL }

// DevMode implements op.Client.
func (c *serviceClient) DevMode() bool { return false }

// RestrictAdditionalIdTokenScopes implements op.Client.
func (c *serviceClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func([]string) []string { return nil }
}

// RestrictAdditionalAccessTokenScopes implements op.Client.
func (c *serviceClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}

// IsScopeAllowed implements op.Client: no custom scopes.
func (c *serviceClient) IsScopeAllowed(string) bool { return false }

// IDTokenUserinfoClaimsAssertion implements op.Client.
func (c *serviceClient) IDTokenUserinfoClaimsAssertion() bool { return false }

// ClockSkew implements op.Client.
func (c *serviceClient) ClockSkew() time.Duration { return 0 }

var (
	_ op.ClientCredentialsStorage = (*store)(nil)
	_ op.Client                   = (*serviceClient)(nil)
)
