package demoidp

import (
	"log/slog"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// authRequest is one authorization request from arrival at /authorize
// until its code is redeemed. The store hands out copies only, so the op
// library never reads a request while the login UI changes it.
type authRequest struct {
	id        string
	createdAt time.Time
	expiresAt time.Time

	clientID      string
	redirectURI   string
	state         string
	nonce         string
	scopes        []string
	responseType  oidc.ResponseType
	responseMode  oidc.ResponseMode
	codeChallenge *oidc.CodeChallenge

	promptLogin bool
	promptNone  bool
	// maxAge is nil when the client did not send max_age; zero after
	// prompt=login (the op library maps prompt=login to max_age=0).
	maxAge *time.Duration
	// requestedACR holds acr_values plus the values of an acr claim in
	// the claims parameter.
	requestedACR []string
	// hintSubject is the sub of a valid id_token_hint, if one was sent;
	// an SSO session for someone else must not answer such a request.
	hintSubject string

	// Login progress, bound to the browser that first opened the form.
	browserID     string
	csrfToken     string
	failures      int
	passwordUser  string // set once the password step has passed
	codeIssued    bool
	codeExpiresAt time.Time
	done          bool
	subject       string
	authTime      time.Time
	strength      authStrength
}

// mfaRequired says the client asked for ACRMFA, so the TOTP step cannot be
// skipped.
func (a *authRequest) mfaRequired() bool { return slices.Contains(a.requestedACR, ACRMFA) }

func (a *authRequest) clone() *authRequest {
	c := *a
	c.scopes = slices.Clone(a.scopes)
	c.requestedACR = slices.Clone(a.requestedACR)
	c.strength.amr = slices.Clone(a.strength.amr)
	if a.maxAge != nil {
		m := *a.maxAge
		c.maxAge = &m
	}
	if a.codeChallenge != nil {
		cc := *a.codeChallenge
		c.codeChallenge = &cc
	}
	return &c
}

// LogValue keeps state, nonce, PKCE challenge and CSRF token out of logs:
// the op library logs auth requests when it reports errors.
func (a *authRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", a.id), slog.String("client_id", a.clientID))
}

// GetID implements op.AuthRequest.
func (a *authRequest) GetID() string { return a.id }

// GetACR implements op.AuthRequest.
func (a *authRequest) GetACR() string { return a.strength.acr }

// GetAMR implements op.AuthRequest.
func (a *authRequest) GetAMR() []string { return slices.Clone(a.strength.amr) }

// GetAudience implements op.AuthRequest: the requesting client only.
func (a *authRequest) GetAudience() []string { return []string{a.clientID} }

// GetAuthTime implements op.AuthRequest.
func (a *authRequest) GetAuthTime() time.Time { return a.authTime }

// GetClientID implements op.AuthRequest.
func (a *authRequest) GetClientID() string { return a.clientID }

// GetCodeChallenge implements op.AuthRequest.
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.codeChallenge }

// GetNonce implements op.AuthRequest.
func (a *authRequest) GetNonce() string { return a.nonce }

// GetRedirectURI implements op.AuthRequest.
func (a *authRequest) GetRedirectURI() string { return a.redirectURI }

// GetResponseType implements op.AuthRequest.
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.responseType }

// GetResponseMode implements op.AuthRequest.
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.responseMode }

// GetScopes implements op.AuthRequest.
func (a *authRequest) GetScopes() []string { return slices.Clone(a.scopes) }

// GetState implements op.AuthRequest.
func (a *authRequest) GetState() string { return a.state }

// GetSubject implements op.AuthRequest.
func (a *authRequest) GetSubject() string { return a.subject }

// Done implements op.AuthRequest.
func (a *authRequest) Done() bool { return a.done }
