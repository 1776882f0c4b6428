package demoidp

import (
	"net/url"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// registeredClient is a Client as the op library sees it: a confidential
// web application limited to the code flow, with its secret kept as a
// digest.
type registeredClient struct {
	id                     string
	secret                 [32]byte
	redirectURIs           []string
	postLogoutRedirectURIs []string
	loginURL               func(authRequestID string) string
	tokenTTL               time.Duration
}

func newRegisteredClient(c Client, loginBase string, tokenTTL time.Duration) *registeredClient {
	return &registeredClient{
		id:                     c.ID,
		secret:                 secretDigest(c.Secret),
		redirectURIs:           slices.Clone(c.RedirectURIs),
		postLogoutRedirectURIs: slices.Clone(c.PostLogoutRedirectURIs),
		loginURL: func(id string) string {
			return loginBase + "?" + url.Values{"authRequestID": {id}}.Encode()
		},
		tokenTTL: tokenTTL,
	}
}

// GetID implements op.Client.
func (c *registeredClient) GetID() string { return c.id }

// RedirectURIs implements op.Client; matching is exact, no globs.
func (c *registeredClient) RedirectURIs() []string { return slices.Clone(c.redirectURIs) }

// PostLogoutRedirectURIs implements op.Client.
func (c *registeredClient) PostLogoutRedirectURIs() []string {
	return slices.Clone(c.postLogoutRedirectURIs)
}

// ApplicationType implements op.Client: a server-side web app.
func (c *registeredClient) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }

// AuthMethod implements op.Client: client_secret_basic (post is also
// accepted, see op.Config.AuthMethodPost).
func (c *registeredClient) AuthMethod() oidc.AuthMethod { return oidc.AuthMethodBasic }

// ResponseTypes implements op.Client: code only, no implicit flow.
func (c *registeredClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

// GrantTypes implements op.Client: authorization_code only, no refresh
// tokens; the portal keeps its own session.
func (c *registeredClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode}
}

// LoginURL implements op.Client: where the op sends the browser to log in.
func (c *registeredClient) LoginURL(id string) string { return c.loginURL(id) }

// AccessTokenType implements op.Client: opaque bearer tokens.
func (c *registeredClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }

// IDTokenLifetime implements op.Client.
func (c *registeredClient) IDTokenLifetime() time.Duration { return c.tokenTTL }

// DevMode implements op.Client; off, so redirect URIs are checked strictly.
func (c *registeredClient) DevMode() bool { return false }

// RestrictAdditionalIdTokenScopes implements op.Client.
func (c *registeredClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}

// RestrictAdditionalAccessTokenScopes implements op.Client.
func (c *registeredClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}

// IsScopeAllowed implements op.Client: "groups" is the one custom scope.
func (c *registeredClient) IsScopeAllowed(scope string) bool { return scope == scopeGroups }

// IDTokenUserinfoClaimsAssertion implements op.Client. It is on because
// the portal reads name, email and groups from the ID token and never
// calls userinfo.
func (c *registeredClient) IDTokenUserinfoClaimsAssertion() bool { return true }

// ClockSkew implements op.Client; zero, so auth_time is exactly when the
// user logged in.
func (c *registeredClient) ClockSkew() time.Duration { return 0 }
