package demoidp

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Config describes one demo provider. Only Issuer, Clients and Users are
// required; the durations default to short, safe values.
type Config struct {
	// Issuer is the provider's issuer URL, e.g. http://127.0.0.1:8080/idp.
	// Its path is the prefix the Provider serves under.
	Issuer string
	// Clients are the relying parties allowed to use the provider.
	Clients []Client
	// ServiceClients are machine clients using the client-credentials
	// grant (see ServiceClient).
	ServiceClients []ServiceClient
	// Users are the demo accounts (see GenerateUsers).
	Users []User

	// Now is the provider's clock for sessions, auth_time, expiry and
	// TOTP. Tests move it; nil means time.Now.
	Now func() time.Time
	// Logger receives login and logout events, never secrets. nil means
	// slog.Default().
	Logger *slog.Logger

	// SessionTTL bounds how long an IdP session can be reused for SSO.
	// Default 8h.
	SessionTTL time.Duration
	// AuthRequestTTL bounds how long a person may take to log in.
	// Default 10m.
	AuthRequestTTL time.Duration
	// CodeTTL bounds how long an authorization code can be redeemed.
	// Default 1m.
	CodeTTL time.Duration
	// TokenTTL is the lifetime of ID and access tokens. Default 10m.
	TokenTTL time.Duration
	// MaxLoginFailures is how many wrong passwords or codes one login
	// attempt tolerates before it is abandoned. Default 5.
	MaxLoginFailures int
}

// Client is one registered relying party. It is always a confidential web
// client using the authorization code flow with PKCE S256.
type Client struct {
	// ID is the client_id.
	ID string
	// Secret is the client_secret; New keeps only its SHA-256.
	Secret string
	// RedirectURIs are the exact redirect_uri values accepted.
	RedirectURIs []string
	// PostLogoutRedirectURIs are the exact post_logout_redirect_uri
	// values accepted at end_session.
	PostLogoutRedirectURIs []string
}

// settings is Config after defaults and validation, in the form the rest of
// the package uses.
type settings struct {
	issuer         string
	issuerURL      *url.URL
	prefix         string
	now            func() time.Time
	log            *slog.Logger
	sessionTTL     time.Duration
	authRequestTTL time.Duration
	codeTTL        time.Duration
	tokenTTL       time.Duration
	maxFailures    int
}

func (c Config) settings() (settings, error) {
	s := settings{
		issuer:         strings.TrimSuffix(c.Issuer, "/"),
		now:            c.Now,
		log:            c.Logger,
		sessionTTL:     c.SessionTTL,
		authRequestTTL: c.AuthRequestTTL,
		codeTTL:        c.CodeTTL,
		tokenTTL:       c.TokenTTL,
		maxFailures:    c.MaxLoginFailures,
	}
	u, err := url.Parse(s.issuer)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") ||
		u.RawQuery != "" || u.Fragment != "" {
		return settings{}, fmt.Errorf("demoidp: issuer %q must be an absolute http(s) URL without query or fragment", c.Issuer)
	}
	s.issuerURL = u
	s.prefix = strings.TrimSuffix(u.Path, "/")
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.sessionTTL <= 0 {
		s.sessionTTL = 8 * time.Hour
	}
	if s.authRequestTTL <= 0 {
		s.authRequestTTL = 10 * time.Minute
	}
	if s.codeTTL <= 0 {
		s.codeTTL = time.Minute
	}
	if s.tokenTTL <= 0 {
		s.tokenTTL = 10 * time.Minute
	}
	if s.maxFailures <= 0 {
		s.maxFailures = 5
	}
	if len(c.Clients) == 0 {
		return settings{}, errors.New("demoidp: at least one client is required")
	}
	if len(c.Users) == 0 {
		return settings{}, errors.New("demoidp: at least one user is required")
	}
	return s, nil
}

// validate refuses a client that could not work or would be unsafe to
// register (no secret, no redirect URI, redirect URI with a fragment).
func (c Client) validate() error {
	if c.ID == "" {
		return errors.New("client id is empty")
	}
	if len(c.Secret) < 16 {
		return fmt.Errorf("client %q: secret must be at least 16 characters", c.ID)
	}
	if len(c.RedirectURIs) == 0 {
		return fmt.Errorf("client %q: at least one redirect uri is required", c.ID)
	}
	for _, raw := range append(append([]string(nil), c.RedirectURIs...), c.PostLogoutRedirectURIs...) {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.Fragment != "" {
			return fmt.Errorf("client %q: %q is not an absolute http(s) URL without fragment", c.ID, raw)
		}
	}
	return nil
}

// validate refuses a user that could not log in or would collide.
func (u User) validate() error {
	if u.Username == "" || strings.ContainsAny(u.Username, " \t\r\n") {
		return fmt.Errorf("username %q is empty or contains spaces", u.Username)
	}
	if len(u.Password) < 8 {
		return fmt.Errorf("user %q: password must be at least 8 characters", u.Username)
	}
	if u.TOTPSecret != "" {
		if _, err := decodeTOTPSecret(u.TOTPSecret); err != nil {
			return fmt.Errorf("user %q: %w", u.Username, err)
		}
	}
	return nil
}
