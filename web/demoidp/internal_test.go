package demoidp

import (
	"slices"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

func TestACRFromClaimsParam(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw     string
		want    []string
		wantErr bool
	}{
		{raw: "", want: nil},
		{raw: `{"id_token":{"acr":{"essential":true,"values":["` + ACRMFA + `"]}}}`, want: []string{ACRMFA}},
		{raw: `{"id_token":{"acr":{"essential":true,"value":"` + ACRMFA + `"}}}`, want: []string{ACRMFA}},
		{raw: `{"id_token":{"acr":{"value":"a","values":["a","b"]}}}`, want: []string{"a", "b"}},
		{raw: `{"id_token":{"acr":null}}`, want: nil},
		{raw: `{"userinfo":{"email":null}}`, want: nil},
		{raw: `{"id_token":{"acr":{"values":"not-a-list"}}}`, wantErr: true},
		{raw: `not json`, wantErr: true},
	}
	for _, tc := range tests {
		got, err := acrFromClaimsParam(tc.raw)
		if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
			t.Errorf("acrFromClaimsParam(%s) = %q, %v; want %q, err=%v", tc.raw, got, err, tc.want, tc.wantErr)
		}
	}
}

// oneAccount returns generated users and a credential checker holding
// the first of them.
func oneAccount(t *testing.T) ([]User, *credentialChecker) {
	t.Helper()
	users, err := GenerateUsers()
	if err != nil {
		t.Fatal(err)
	}
	c, err := newCredentialChecker(users[:1])
	if err != nil {
		t.Fatal(err)
	}
	return users, c
}

func TestCredentialsKeepNoClearTextPassword(t *testing.T) {
	t.Parallel()
	users, c := oneAccount(t)
	a := c.accounts[users[0].Username]
	if a.profile.Password != "" || string(a.passwordHash) == users[0].Password {
		t.Fatal("the clear-text password is kept")
	}
	if _, ok := c.checkPassword(users[0].Username, users[0].Password); !ok {
		t.Error("right password refused")
	}
	if _, ok := c.checkPassword(users[0].Username, users[0].Password+" "); ok {
		t.Error("wrong password accepted")
	}
	if _, ok := c.checkPassword("nobody", users[0].Password); ok {
		t.Error("unknown user accepted")
	}
}

func TestTOTPWindowAndReplay(t *testing.T) {
	t.Parallel()
	users, c := oneAccount(t)
	a := c.accounts[users[0].Username]
	now := time.Date(2026, 3, 1, 12, 0, 15, 0, time.UTC)
	code := func(at time.Time) string {
		s, err := totp.GenerateCode(a.totpSecret, at)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if c.checkTOTP(a, code(now.Add(-2*totpPeriod)), now) {
		t.Error("code from two steps ago accepted")
	}
	if !c.checkTOTP(a, code(now.Add(-totpPeriod)), now) {
		t.Error("code from the previous step (clock drift) refused")
	}
	if c.checkTOTP(a, code(now.Add(-totpPeriod)), now) {
		t.Error("same code accepted twice")
	}
	if !c.checkTOTP(a, code(now), now) {
		t.Error("current code refused after an older one was used")
	}
	if c.checkTOTP(a, code(now.Add(-totpPeriod)), now) {
		t.Error("an older step accepted after a newer one")
	}
	if c.checkTOTP(a, "12345", now) || c.checkTOTP(a, "", now) {
		t.Error("malformed code accepted")
	}
}

func TestSecretCompare(t *testing.T) {
	t.Parallel()
	d := secretDigest("client-secret-value")
	if !secretMatches(d, "client-secret-value") || secretMatches(d, "client-secret-valuE") || secretMatches(d, "") {
		t.Error("secret comparison is wrong")
	}
}
