package oidcrp

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// AuthOptions shape one authorization request. The zero value is a plain
// login; step-up sets Prompt "login", MaxAge and ACRValues.
type AuthOptions struct {
	// Prompt is sent as prompt= ("login", "none", "consent",
	// "select_account", or several separated by spaces).
	Prompt string `json:"prompt,omitempty"`
	// MaxAge, when set, is sent as max_age (whole seconds) and Complete
	// then requires auth_time within it.
	MaxAge *time.Duration `json:"max_age,omitempty"`
	// ACRValues, when set, are sent as acr_values and Complete then
	// requires the returned acr to be one of them.
	ACRValues []string `json:"acr_values,omitempty"`
	// EssentialACR also sends the claims parameter marking acr essential
	// with ACRValues, for IdPs that only enforce essential claims.
	EssentialACR bool `json:"essential_acr,omitempty"`
	// RequestAMR asks for the amr claim in the ID token through the claims
	// parameter: some providers send it only when asked.
	RequestAMR bool `json:"request_amr,omitempty"`
	// LoginHint is sent as login_hint: who is expected to sign in, so the
	// provider can skip asking for the account.
	LoginHint string `json:"login_hint,omitempty"`
	// Advisory asks for MaxAge and ACRValues without requiring them:
	// Complete accepts an older or weaker login. A sign-in that asks for
	// the step-up strength up front is advisory, because a weaker sign-in
	// is still a sign-in; the decision's own check refuses it later.
	Advisory bool `json:"advisory,omitempty"`
}

// Pending is what the portal keeps server-side in the browser's session
// between Begin and Complete. It contains secrets (nonce, PKCE verifier):
// never put it in a cookie value or a URL.
type Pending struct {
	// State binds the callback to this browser's login (CSRF).
	State string `json:"state"`
	// Nonce binds the ID token to this login (replay and injection).
	Nonce string `json:"nonce"`
	// Verifier is the PKCE code_verifier, so a stolen code is useless.
	Verifier string `json:"verifier"`
	// IssuedAt bounds how long the login may take (Config.PendingTTL).
	IssuedAt time.Time `json:"issued_at"`
	// Options are what was asked, so Complete checks what came back.
	Options AuthOptions `json:"options"`
}

// Begin starts a login: fresh random state, nonce and PKCE verifier (32
// bytes each), and the authorization URL to redirect the browser to.
func (rp *RP) Begin(opts AuthOptions) (authURL string, pending Pending, err error) {
	if opts.MaxAge != nil && *opts.MaxAge < 0 {
		return "", Pending{}, fmt.Errorf("%w: negative max age", ErrConfig)
	}
	if opts.EssentialACR && len(opts.ACRValues) == 0 {
		return "", Pending{}, fmt.Errorf("%w: essential acr without acr values", ErrConfig)
	}
	state, err := random32()
	if err != nil {
		return "", Pending{}, err
	}
	nonce, err := random32()
	if err != nil {
		return "", Pending{}, err
	}
	verifier, err := random32()
	if err != nil {
		return "", Pending{}, err
	}
	params := []oauth2.AuthCodeOption{
		oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("nonce", nonce),
	}
	if opts.Prompt != "" {
		params = append(params, oauth2.SetAuthURLParam("prompt", opts.Prompt))
	}
	if opts.MaxAge != nil {
		params = append(params, oauth2.SetAuthURLParam("max_age", strconv.FormatInt(int64(*opts.MaxAge/time.Second), 10)))
	}
	if len(opts.ACRValues) > 0 {
		params = append(params, oauth2.SetAuthURLParam("acr_values", strings.Join(opts.ACRValues, " ")))
	}
	if opts.LoginHint != "" {
		params = append(params, oauth2.SetAuthURLParam("login_hint", opts.LoginHint))
	}
	if opts.EssentialACR || opts.RequestAMR {
		claims, err := claimsParameter(opts)
		if err != nil {
			return "", Pending{}, err
		}
		params = append(params, oauth2.SetAuthURLParam("claims", claims))
	}
	p := Pending{
		State:    state,
		Nonce:    nonce,
		Verifier: verifier,
		IssuedAt: rp.cfg.Now(),
		Options:  cloneOptions(opts),
	}
	return rp.oauth.AuthCodeURL(state, params...), p, nil
}

// claimRequest is one member of the claims parameter (OIDC Core 5.5.1).
type claimRequest struct {
	Essential bool     `json:"essential"`
	Values    []string `json:"values,omitempty"`
}

// claimsParameter builds the claims parameter for opts, e.g.
// {"id_token":{"acr":{"essential":true,"values":[...]},"amr":{"essential":true}}}.
func claimsParameter(opts AuthOptions) (string, error) {
	idToken := map[string]claimRequest{}
	if opts.EssentialACR {
		idToken["acr"] = claimRequest{Essential: true, Values: opts.ACRValues}
	}
	if opts.RequestAMR {
		idToken["amr"] = claimRequest{Essential: true}
	}
	b, err := json.Marshal(map[string]map[string]claimRequest{"id_token": idToken})
	if err != nil {
		return "", fmt.Errorf("oidcrp: encode claims parameter: %w", err)
	}
	return string(b), nil
}

func cloneOptions(o AuthOptions) AuthOptions {
	c := o
	if o.MaxAge != nil {
		m := *o.MaxAge
		c.MaxAge = &m
	}
	c.ACRValues = append([]string(nil), o.ACRValues...)
	return c
}

// random32 returns 32 bytes from crypto/rand, base64url without padding
// (43 characters, a valid PKCE verifier).
func random32() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("oidcrp: read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
