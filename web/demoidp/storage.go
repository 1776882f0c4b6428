package demoidp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// maxPendingAuthRequests caps memory: anyone can hit /authorize, and each
// hit stores a request until it expires.
const maxPendingAuthRequests = 10000

// scopeGroups is the custom scope that asks for the groups claim.
const scopeGroups = "groups"

// Errors the login UI turns into pages. They never reach a client as text.
var (
	errUnknownRequest = errors.New("auth request unknown or expired")
	errWrongBrowser   = errors.New("auth request belongs to another browser or form")
	errTooManyFailed  = errors.New("too many failed attempts")
	errNotFound       = errors.New("not found")
)

// accessToken is an opaque bearer token's server-side record.
type accessToken struct {
	id        string
	subject   string
	clientID  string
	scopes    []string
	expiresAt time.Time
}

// codeGrant maps an issued authorization code to its auth request.
type codeGrant struct {
	requestID string
	expiresAt time.Time
}

// store is the in-memory op.Storage. One mutex guards every map; the demo
// never sees enough traffic for finer locking to matter.
type store struct {
	cfg     settings
	key     *signingKey
	creds   *credentialChecker
	clients map[string]*registeredClient
	// services are the client-credentials clients (client_credentials.go).
	services map[string]*serviceClient

	mu       sync.Mutex
	requests map[string]*authRequest
	codes    map[string]codeGrant
	tokens   map[string]accessToken
}

// requestedACRKey carries the acr values from the claims parameter from
// the authorize middleware to CreateAuthRequest.
type requestedACRKey struct{}

func withRequestedACR(ctx context.Context, values []string) context.Context {
	return context.WithValue(ctx, requestedACRKey{}, values)
}

func requestedACRFrom(ctx context.Context) []string {
	v, _ := ctx.Value(requestedACRKey{}).([]string)
	return v
}

// sweepLocked drops expired requests, codes and tokens. Callers hold mu.
func (s *store) sweepLocked(now time.Time) {
	for id, r := range s.requests {
		if now.After(r.expiresAt) {
			delete(s.requests, id)
		}
	}
	for c, g := range s.codes {
		if now.After(g.expiresAt) {
			delete(s.codes, c)
		}
	}
	for id, t := range s.tokens {
		if now.After(t.expiresAt) {
			delete(s.tokens, id)
		}
	}
}

// CreateAuthRequest implements op.Storage. It refuses requests without
// PKCE S256: the portal always sends it, and requiring it means a stolen
// code is useless on its own.
func (s *store) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, hintSubject string) (op.AuthRequest, error) {
	if req.CodeChallenge == "" || req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("this provider requires PKCE with code_challenge_method=S256")
	}
	id, err := randomToken(24)
	if err != nil {
		return nil, err
	}
	now := s.cfg.now()
	r := &authRequest{
		id:           id,
		createdAt:    now,
		expiresAt:    now.Add(s.cfg.authRequestTTL),
		clientID:     req.ClientID,
		redirectURI:  req.RedirectURI,
		state:        req.State,
		nonce:        req.Nonce,
		scopes:       slices.Clone([]string(req.Scopes)),
		responseType: req.ResponseType,
		responseMode: req.ResponseMode,
		codeChallenge: &oidc.CodeChallenge{
			Challenge: req.CodeChallenge,
			Method:    req.CodeChallengeMethod,
		},
		promptLogin:  slices.Contains(req.Prompt, oidc.PromptLogin),
		promptNone:   slices.Contains(req.Prompt, oidc.PromptNone),
		requestedACR: mergeACR(req.ACRValues, requestedACRFrom(ctx)),
		hintSubject:  hintSubject,
	}
	if req.MaxAge != nil {
		d := time.Duration(*req.MaxAge) * time.Second
		r.maxAge = &d
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	if len(s.requests) >= maxPendingAuthRequests {
		return nil, oidc.ErrServerError().WithDescription("too many pending logins, try again later")
	}
	s.requests[id] = r
	return r.clone(), nil
}

// mergeACR joins acr_values and claims-parameter values, keeping order and
// dropping duplicates.
func mergeACR(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		for _, v := range l {
			if v != "" && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

// liveLocked returns the stored (not copied) request if it exists and has
// not expired. Callers hold mu.
func (s *store) liveLocked(id string, now time.Time) (*authRequest, error) {
	r, ok := s.requests[id]
	if !ok || now.After(r.expiresAt) {
		return nil, errUnknownRequest
	}
	return r, nil
}

// AuthRequestByID implements op.Storage.
func (s *store) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	r, err := s.requestByID(id)
	if err != nil {
		return nil, err // not a nil *authRequest inside an interface
	}
	return r, nil
}

// requestByID is AuthRequestByID with the concrete type, for the login UI.
func (s *store) requestByID(id string) (*authRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.liveLocked(id, s.cfg.now())
	if err != nil {
		return nil, err
	}
	return r.clone(), nil
}

// SaveAuthCode implements op.Storage. One auth request yields at most one
// code: replaying the login callback URL must not mint a second one.
func (s *store) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.now()
	r, err := s.liveLocked(id, now)
	if err != nil {
		return err
	}
	if !r.done || r.codeIssued {
		return oidc.ErrInvalidRequest().WithDescription("this login has already been used")
	}
	r.codeIssued = true
	r.codeExpiresAt = now.Add(s.cfg.codeTTL)
	s.codes[code] = codeGrant{requestID: id, expiresAt: r.codeExpiresAt}
	return nil
}

// AuthRequestByCode implements op.Storage. A code can be presented once:
// it and its auth request are removed before the op library checks PKCE
// and the client secret, so a failed attempt (a wrong verifier, say) also
// burns the code, as RFC 6749 section 4.1.2 asks.
func (s *store) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.now()
	g, ok := s.codes[code]
	delete(s.codes, code)
	if !ok || now.After(g.expiresAt) {
		return nil, errors.New("code unknown, used or expired")
	}
	r, ok := s.requests[g.requestID]
	delete(s.requests, g.requestID)
	if !ok || !r.done {
		return nil, errors.New("code unknown, used or expired")
	}
	return r, nil
}

// DeleteAuthRequest implements op.Storage. The code path has already
// removed the request, so this is usually a no-op.
func (s *store) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.requests, id)
	return nil
}

// CreateAccessToken implements op.Storage with opaque tokens kept here.
func (s *store) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	id, err := randomToken(24)
	if err != nil {
		return "", time.Time{}, err
	}
	clientID := ""
	if ar, ok := req.(op.AuthRequest); ok {
		clientID = ar.GetClientID()
	}
	now := s.cfg.now()
	t := accessToken{
		id:        id,
		subject:   req.GetSubject(),
		clientID:  clientID,
		scopes:    slices.Clone(req.GetScopes()),
		expiresAt: now.Add(s.cfg.tokenTTL),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[id] = t
	return id, t.expiresAt, nil
}

// CreateAccessAndRefreshTokens implements op.Storage; refresh tokens are
// not offered (the portal re-authenticates instead).
func (s *store) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, oidc.ErrUnsupportedGrantType().WithDescription("refresh tokens are not supported")
}

// TokenRequestByRefreshToken implements op.Storage; see above.
func (s *store) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

// GetRefreshTokenInfo implements op.Storage; see above.
func (s *store) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

// TerminateSession implements op.Storage: it revokes the client's access
// tokens for the user. The browser's SSO session is ended by the
// end_session wrapper, which can see the cookie.
func (s *store) TerminateSession(_ context.Context, userID, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.tokens {
		if t.subject == userID && (clientID == "" || t.clientID == clientID) {
			delete(s.tokens, id)
		}
	}
	return nil
}

// RevokeToken implements op.Storage for access tokens.
func (s *store) RevokeToken(_ context.Context, tokenOrID, _ string, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[tokenOrID]
	if !ok {
		return nil
	}
	if t.clientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
	}
	delete(s.tokens, tokenOrID)
	return nil
}

// SigningKey implements op.Storage.
func (s *store) SigningKey(context.Context) (op.SigningKey, error) { return s.key, nil }

// SignatureAlgorithms implements op.Storage.
func (s *store) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

// KeySet implements op.Storage: the public half of the one signing key.
func (s *store) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{s.key}}, nil
}

// GetClientByClientID implements op.Storage.
func (s *store) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	c, ok := s.clients[clientID]
	if !ok {
		return nil, fmt.Errorf("client: %w", errNotFound)
	}
	return c, nil
}

// AuthorizeClientIDSecret implements op.Storage with a constant-time
// comparison of secret digests; an unknown client costs the same.
func (s *store) AuthorizeClientIDSecret(_ context.Context, clientID, secret string) error {
	want := secretDigest("")
	c, known := s.clients[clientID]
	if known {
		want = c.secret
	}
	if !secretMatches(want, secret) || !known {
		return errors.New("client authentication failed")
	}
	return nil
}

// SetUserinfoFromScopes implements op.Storage; deprecated by the library
// in favour of SetUserinfoFromRequest, so empty.
func (s *store) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest implements op.CanSetUserinfoFromRequest: it puts
// the profile, email and groups claims into the ID token.
func (s *store) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	return s.fillUserinfo(info, req.GetSubject(), scopes)
}

// SetUserinfoFromToken implements op.Storage for the userinfo endpoint.
func (s *store) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, _, _ string) error {
	s.mu.Lock()
	t, ok := s.tokens[tokenID]
	s.mu.Unlock()
	if !ok || s.cfg.now().After(t.expiresAt) {
		return errors.New("access token unknown or expired")
	}
	return s.fillUserinfo(info, t.subject, t.scopes)
}

// SetIntrospectionFromToken implements op.Storage.
func (s *store) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, _, clientID string) error {
	s.mu.Lock()
	t, ok := s.tokens[tokenID]
	s.mu.Unlock()
	if !ok || s.cfg.now().After(t.expiresAt) || t.clientID != clientID {
		return errors.New("access token unknown, expired or not for this client")
	}
	info := new(oidc.UserInfo)
	if err := s.fillUserinfo(info, t.subject, t.scopes); err != nil {
		return err
	}
	resp.SetUserInfo(info)
	resp.Scope = t.scopes
	resp.ClientID = t.clientID
	resp.Expiration = oidc.FromTime(t.expiresAt)
	return nil
}

// fillUserinfo sets the claims the scopes ask for. sub is always set (the
// library copies the whole userinfo, sub included, into the ID token) and
// groups always travel, because the portal's roles depend on them.
func (s *store) fillUserinfo(info *oidc.UserInfo, subject string, scopes []string) error {
	a, ok := s.creds.accountBySubject(subject)
	if !ok {
		return fmt.Errorf("user: %w", errNotFound)
	}
	info.Subject = a.subject
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeProfile:
			info.Name = a.profile.DisplayName
			info.PreferredUsername = a.profile.Username
		case oidc.ScopeEmail:
			info.Email = a.profile.Email
			info.EmailVerified = true
		}
	}
	info.AppendClaims("groups", slices.Clone(a.profile.Groups))
	return nil
}

// GetPrivateClaimsFromScopes implements op.Storage; access tokens are
// opaque, so there are no JWT access token claims.
func (s *store) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID implements op.Storage; the JWT profile grant and
// private_key_jwt are not offered.
func (s *store) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, fmt.Errorf("client key: %w", errNotFound)
}

// ValidateJWTProfileScopes implements op.Storage; see above.
func (s *store) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("jwt profile grant is not supported")
}

// Health implements op.Storage.
func (s *store) Health(context.Context) error { return nil }

var (
	_ op.Storage                   = (*store)(nil)
	_ op.CanSetUserinfoFromRequest = (*store)(nil)
)
