package oidcpeer

import "time"

// Config is one provider as a test case needs it.
type Config struct {
	// Clients are the registered relying parties.
	Clients []Client
	// Accounts are the people who can log in; the first one logs in when
	// the test did not name anyone with Peer.NextLogin.
	Accounts []Account
	// ConformIDTokenClaims keeps the spec's default: the claims of the
	// profile, email and groups scopes are served at userinfo only, and
	// the ID token carries sub (and acr, amr, auth_time) alone. False puts
	// them into the ID token too, as many providers do.
	ConformIDTokenClaims bool
	// ACRValues is acr_values_supported. Empty: the provider neither
	// advertises nor issues acr.
	ACRValues []string
	// AMROnlyOnRequest puts amr into the ID token only when the
	// authorization request asks for it through the claims parameter.
	// False: every ID token carries the login's amr.
	AMROnlyOnRequest bool
}

// Client is a relying party registered at the provider.
type Client struct {
	// ID is the client_id.
	ID string
	// Secret is the client_secret.
	Secret string
	// RedirectURIs are the registered redirect_uris.
	RedirectURIs []string
	// PostLogoutRedirectURIs are the registered post_logout_redirect_uris.
	PostLogoutRedirectURIs []string
	// TokenEndpointAuthMethod defaults to client_secret_basic.
	TokenEndpointAuthMethod string
}

// Account is a person at the provider.
type Account struct {
	// Subject is the sub claim.
	Subject string
	// Claims are the person's other claims, e.g. preferred_username, name,
	// email and groups; which of them a token carries depends on the
	// scopes granted and on Config.ConformIDTokenClaims.
	Claims map[string]any
}

// serverConfig is the JSON server.mjs reads.
type serverConfig struct {
	AdminToken           string          `json:"adminToken"`
	Port                 int             `json:"port"`
	Clients              []serverClient  `json:"clients"`
	Accounts             []serverAccount `json:"accounts"`
	ConformIDTokenClaims bool            `json:"conformIdTokenClaims"`
	ACRValues            []string        `json:"acrValues"`
	AMROnlyOnRequest     bool            `json:"amrOnlyOnRequest"`
}

type serverClient struct {
	ID                      string   `json:"id"`
	Secret                  string   `json:"secret"`
	RedirectURIs            []string `json:"redirectUris"`
	PostLogoutRedirectURIs  []string `json:"postLogoutRedirectUris"`
	TokenEndpointAuthMethod string   `json:"tokenEndpointAuthMethod,omitempty"`
}

type serverAccount struct {
	Sub    string         `json:"sub"`
	Claims map[string]any `json:"claims"`
}

func (c Config) server(adminToken string) serverConfig {
	s := serverConfig{
		AdminToken:           adminToken,
		ConformIDTokenClaims: c.ConformIDTokenClaims,
		ACRValues:            append([]string{}, c.ACRValues...),
		AMROnlyOnRequest:     c.AMROnlyOnRequest,
		Clients:              []serverClient{},
		Accounts:             []serverAccount{},
	}
	for _, cl := range c.Clients {
		s.Clients = append(s.Clients, serverClient{
			ID: cl.ID, Secret: cl.Secret,
			RedirectURIs:            append([]string{}, cl.RedirectURIs...),
			PostLogoutRedirectURIs:  append([]string{}, cl.PostLogoutRedirectURIs...),
			TokenEndpointAuthMethod: cl.TokenEndpointAuthMethod,
		})
	}
	for _, a := range c.Accounts {
		s.Accounts = append(s.Accounts, serverAccount{Sub: a.Subject, Claims: a.Claims})
	}
	return s
}

// nextLogin is the body of POST /_test/next-login.
type nextLogin struct {
	Sub                string   `json:"sub,omitempty"`
	ACR                string   `json:"acr,omitempty"`
	AMR                []string `json:"amr,omitempty"`
	AuthTimeAgoSeconds int64    `json:"authTimeAgoSeconds"`
}

func newNextLogin(sub, acr string, amr []string, authTimeAgo time.Duration) nextLogin {
	return nextLogin{Sub: sub, ACR: acr, AMR: amr, AuthTimeAgoSeconds: int64(authTimeAgo / time.Second)}
}
