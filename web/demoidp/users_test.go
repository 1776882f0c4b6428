package demoidp_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/countersign/countersign/web/demoidp"
)

func TestGenerateUsersHasTheCastWithRandomCredentials(t *testing.T) {
	t.Parallel()
	a, b := generateUsers(t), generateUsers(t)
	groups := map[string][]string{}
	for i, u := range a {
		groups[u.Username] = u.Groups
		if len(u.Password) < 16 || u.TOTPSecret == "" {
			t.Errorf("%s: weak or missing credentials", u.Username)
		}
		if u.Password == b[i].Password || u.TOTPSecret == b[i].TOTPSecret {
			t.Errorf("%s: two generations share credentials", u.Username)
		}
		if u.Subject() != b[i].Subject() {
			t.Errorf("%s: subject is not stable", u.Username)
		}
	}
	want := map[string][]string{"alice": {"sre"}, "bob": {"security"}, "carol": {"dev"}, "dave": {"audit"}}
	for name, g := range want {
		if !slices.Equal(groups[name], g) {
			t.Errorf("%s groups = %q, want %q", name, groups[name], g)
		}
	}
	if a[0].Subject() == a[1].Subject() {
		t.Error("two users share a subject")
	}
}

func TestDefaultUsersCarryNoCredentials(t *testing.T) {
	t.Parallel()
	for _, u := range demoidp.DefaultUsers() {
		if u.Password != "" || u.TOTPSecret != "" {
			t.Errorf("%s has built-in credentials", u.Username)
		}
	}
	_, err := demoidp.New(demoidp.Config{
		Issuer:  "http://127.0.0.1:1/idp",
		Clients: []demoidp.Client{{ID: clientID, Secret: clientSecret, RedirectURIs: []string{redirectURI}}},
		Users:   demoidp.DefaultUsers(),
	})
	if err == nil {
		t.Error("New accepted users without passwords")
	}
}

func TestOTPAuthURIMatchesTheSecret(t *testing.T) {
	t.Parallel()
	users := generateUsers(t)
	u := users[0]
	uri, err := u.OTPAuthURI()
	if err != nil {
		t.Fatal(err)
	}
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		t.Fatal(err)
	}
	if key.Type() != "totp" || key.AccountName() != u.Username || !strings.Contains(key.Issuer(), "demo") {
		t.Errorf("otpauth uri = %s", uri)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	fromURI, _ := totp.GenerateCode(key.Secret(), at)
	fromUser, _ := totp.GenerateCode(u.TOTPSecret, at)
	if fromURI != fromUser {
		t.Error("the otpauth URI encodes a different secret")
	}
	if _, err := (demoidp.User{Username: "x"}).OTPAuthURI(); err == nil {
		t.Error("OTPAuthURI without a secret did not fail")
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	users := generateUsers(t)
	good := demoidp.Client{ID: clientID, Secret: clientSecret, RedirectURIs: []string{redirectURI}}
	tests := map[string]demoidp.Config{
		"no issuer":           {Clients: []demoidp.Client{good}, Users: users},
		"relative issuer":     {Issuer: "/idp", Clients: []demoidp.Client{good}, Users: users},
		"no clients":          {Issuer: "http://127.0.0.1/idp", Users: users},
		"short client secret": {Issuer: "http://127.0.0.1/idp", Clients: []demoidp.Client{{ID: "c", Secret: "short", RedirectURIs: []string{redirectURI}}}, Users: users},
		"no redirect uri":     {Issuer: "http://127.0.0.1/idp", Clients: []demoidp.Client{{ID: "c", Secret: clientSecret}}, Users: users},
		"duplicate client":    {Issuer: "http://127.0.0.1/idp", Clients: []demoidp.Client{good, good}, Users: users},
		"duplicate user":      {Issuer: "http://127.0.0.1/idp", Clients: []demoidp.Client{good}, Users: append(users, users[0])},
		"bad totp secret":     {Issuer: "http://127.0.0.1/idp", Clients: []demoidp.Client{good}, Users: []demoidp.User{{Username: "x", Password: "long-enough-pw", TOTPSecret: "not base32!"}}},
	}
	for name, cfg := range tests {
		if _, err := demoidp.New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}
