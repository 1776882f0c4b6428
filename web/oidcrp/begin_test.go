package oidcrp

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"testing"
	"time"
)

func TestBeginBuildsTheAuthorizationRequest(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rp := newTokenRP(t, ts, now)
	opts := AuthOptions{Prompt: "login", MaxAge: dur(5 * time.Minute), ACRValues: []string{"urn:a", "urn:b"}, EssentialACR: true,
		RequestAMR: true, LoginHint: "alice@example.com"}
	authURL, p, err := rp.Begin(opts)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	sum := sha256.Sum256([]byte(p.Verifier))
	checks := map[string]string{
		"response_type":         "code",
		"client_id":             tsClient,
		"redirect_uri":          "http://portal.test/cb",
		"state":                 p.State,
		"nonce":                 p.Nonce,
		"code_challenge":        base64.RawURLEncoding.EncodeToString(sum[:]),
		"code_challenge_method": "S256",
		"prompt":                "login",
		"max_age":               "300",
		"acr_values":            "urn:a urn:b",
		"login_hint":            "alice@example.com",
	}
	for k, want := range checks {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	var claims struct {
		IDToken struct {
			ACR struct {
				Essential bool     `json:"essential"`
				Values    []string `json:"values"`
			} `json:"acr"`
			AMR *struct {
				Essential bool `json:"essential"`
			} `json:"amr"`
		} `json:"id_token"`
	}
	if err := json.Unmarshal([]byte(q.Get("claims")), &claims); err != nil {
		t.Fatalf("claims parameter: %v", err)
	}
	if !claims.IDToken.ACR.Essential || !slices.Equal(claims.IDToken.ACR.Values, opts.ACRValues) || claims.IDToken.AMR == nil || !claims.IDToken.AMR.Essential {
		t.Errorf("claims parameter = %s", q.Get("claims"))
	}
	for name, v := range map[string]string{"state": p.State, "nonce": p.Nonce, "verifier": p.Verifier} {
		if raw, err := base64.RawURLEncoding.DecodeString(v); err != nil || len(raw) != 32 {
			t.Errorf("%s is not 32 random bytes in base64url: %q", name, v)
		}
	}
	if !p.IssuedAt.Equal(now) || *p.Options.MaxAge != 5*time.Minute {
		t.Errorf("pending = %+v", p)
	}

	_, p2, err := rp.Begin(AuthOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p2.State == p.State || p2.Nonce == p.Nonce || p2.Verifier == p.Verifier {
		t.Error("two logins share state, nonce or verifier")
	}
}

func TestBeginPlainLoginHasNoStepUpParameters(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t)
	authURL, _, err := newTokenRP(t, ts, time.Now()).Begin(AuthOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(authURL)
	for _, k := range []string{"prompt", "max_age", "acr_values", "claims", "login_hint"} {
		if u.Query().Has(k) {
			t.Errorf("plain login sends %s", k)
		}
	}
}

func TestBeginRejectsInconsistentOptions(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t)
	rp := newTokenRP(t, ts, time.Now())
	for name, o := range map[string]AuthOptions{
		"negative max age":         {MaxAge: dur(-time.Second)},
		"essential without values": {EssentialACR: true},
	} {
		if _, _, err := rp.Begin(o); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
}

func TestPendingSurvivesJSON(t *testing.T) {
	t.Parallel()
	// The portal stores Pending server-side, typically as JSON.
	ts := newTokenServer(t)
	_, p, err := newTokenRP(t, ts, time.Now()).Begin(AuthOptions{MaxAge: dur(time.Minute), ACRValues: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Pending
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.State != p.State || back.Nonce != p.Nonce || back.Verifier != p.Verifier || !back.IssuedAt.Equal(p.IssuedAt) ||
		*back.Options.MaxAge != time.Minute || !slices.Equal(back.Options.ACRValues, []string{"x"}) {
		t.Errorf("round trip changed the pending login: %+v", back)
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	base := Config{Issuer: "https://idp.example", ClientID: "c", ClientSecret: "s", RedirectURL: "https://portal.example/cb"}
	for name, mutate := range map[string]func(*Config){
		"no issuer":          func(c *Config) { c.Issuer = "" },
		"no client id":       func(c *Config) { c.ClientID = "" },
		"no secret":          func(c *Config) { c.ClientSecret = "" },
		"relative redirect":  func(c *Config) { c.RedirectURL = "/cb" },
		"issuer not http(s)": func(c *Config) { c.Issuer = "ftp://idp.example" },
	} {
		c := base
		mutate(&c)
		if _, err := c.withDefaults(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
	c, err := base.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.RolesClaim != "groups" || !slices.Contains(c.Scopes, "openid") {
		t.Errorf("defaults = %+v", c)
	}
	c, _ = Config{Issuer: base.Issuer, ClientID: "c", ClientSecret: "s", RedirectURL: base.RedirectURL, Scopes: []string{"email"}}.withDefaults()
	if !slices.Equal(c.Scopes, []string{"openid", "email"}) {
		t.Errorf("scopes = %q, want openid added", c.Scopes)
	}
}

// TestAMRAloneIsAskedWithoutACR: a rule that needs only a method asks for
// amr through the claims parameter and nothing about acr.
func TestAMRAloneIsAskedWithoutACR(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t)
	authURL, _, err := newTokenRP(t, ts, time.Now()).Begin(AuthOptions{RequestAMR: true})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(authURL)
	if got := u.Query().Get("claims"); got != `{"id_token":{"amr":{"essential":true}}}` {
		t.Errorf("claims = %s", got)
	}
}

// TestAdvisoryLoginAcceptsAWeakerAnswer: a sign-in that asks for the
// step-up strength up front is not refused when the provider gives less;
// the same answer to a step-up is.
func TestAdvisoryLoginAcceptsAWeakerAnswer(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rp := newTokenRP(t, ts, now)
	for _, advisory := range []bool{true, false} {
		_, pending := mustBegin(t, rp, AuthOptions{MaxAge: dur(5 * time.Minute), ACRValues: []string{"urn:mfa"}, Advisory: advisory})
		id, err := completeWith(t, ts, rp, pending, map[string]any{
			"iss": ts.srv.URL, "sub": "u", "aud": tsClient, "exp": now.Add(time.Minute).Unix(), "nonce": pending.Nonce,
			"preferred_username": "u", "auth_time": now.Add(-time.Hour).Unix(), "acr": "urn:password",
		}, false, nil)
		switch {
		case advisory && (err != nil || id.ACR != "urn:password"):
			t.Errorf("advisory: %v %+v, want the weaker login accepted as it is", err, id)
		case !advisory && !errors.Is(err, ErrStaleAuth):
			t.Errorf("required: err = %v, want ErrStaleAuth", err)
		}
	}
}
