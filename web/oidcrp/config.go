package oidcrp

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Config describes the portal as a client of one OpenID Provider.
type Config struct {
	// Issuer is the provider's issuer URL, exactly as its discovery
	// document states it.
	Issuer string
	// ClientID is the portal's client_id at the IdP.
	ClientID string
	// ClientSecret is the portal's client_secret (sent with HTTP Basic).
	ClientSecret string
	// RedirectURL is the portal's callback URL, registered at the IdP.
	RedirectURL string
	// Scopes to request; "openid" is always added. Default: openid,
	// profile, email.
	Scopes []string
	// RolesClaim names the ID token claim holding the user's groups or
	// roles; a string or an array of strings. A dotted path such as
	// "realm_access.roles" is followed when no claim has that exact name.
	// Default "groups".
	RolesClaim string
	// Claims names further claims the portal reads (a username claim
	// other than preferred_username, say). Like the profile and roles
	// claims, they are asked of the userinfo endpoint when the ID token
	// leaves them out.
	Claims []string

	// HTTPClient talks to the IdP (discovery, JWKS, token). Default: a
	// client with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock for expiry and freshness checks. Default time.Now.
	Now func() time.Time
	// ClockSkew is the tolerance between our clock and the IdP's for exp,
	// iat and auth_time. Default 30 s.
	ClockSkew time.Duration
	// PendingTTL bounds how long a started login can be completed.
	// Default 10 min.
	PendingTTL time.Duration
	// KeySetMaxAge is how long the provider's signing keys are trusted
	// as fetched before they are fetched again, so a key the provider
	// withdrew stops verifying tokens. Default 10 min.
	KeySetMaxAge time.Duration
}

// withDefaults validates c and fills in the defaults.
func (c Config) withDefaults() (Config, error) {
	for name, v := range map[string]string{"Issuer": c.Issuer, "ClientID": c.ClientID, "ClientSecret": c.ClientSecret, "RedirectURL": c.RedirectURL} {
		if v == "" {
			return Config{}, fmt.Errorf("%w: %s is empty", ErrConfig, name)
		}
	}
	for name, v := range map[string]string{"Issuer": c.Issuer, "RedirectURL": c.RedirectURL} {
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return Config{}, fmt.Errorf("%w: %s %q is not an absolute http(s) URL", ErrConfig, name, v)
		}
	}
	if len(c.Scopes) == 0 {
		c.Scopes = []string{"openid", "profile", "email"}
	}
	if !slices.Contains(c.Scopes, "openid") {
		c.Scopes = append([]string{"openid"}, c.Scopes...)
	}
	c.Scopes = slices.Clone(c.Scopes)
	c.Claims = slices.Clone(c.Claims)
	if c.RolesClaim == "" {
		c.RolesClaim = "groups"
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ClockSkew <= 0 {
		c.ClockSkew = 30 * time.Second
	}
	if c.PendingTTL <= 0 {
		c.PendingTTL = 10 * time.Minute
	}
	if c.KeySetMaxAge <= 0 {
		c.KeySetMaxAge = 10 * time.Minute
	}
	return c, nil
}
