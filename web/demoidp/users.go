package demoidp

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// totpIssuer names the provider in authenticator apps, so a person with a
// real company authenticator can tell the demo entries apart.
const totpIssuer = "Countersign demo IdP"

// User is one demo account. Password and TOTPSecret are given in clear here
// because `countersign demo` has to print them for the person trying the
// demo; New keeps only a bcrypt hash of the password.
type User struct {
	// Username is what the person types at the login form and what the
	// preferred_username claim carries.
	Username string
	// Password is the clear-text password; New hashes it and forgets it.
	Password string
	// DisplayName becomes the name claim.
	DisplayName string
	// Email becomes the email claim.
	Email string
	// Groups becomes the groups claim, which the portal maps to roles.
	Groups []string
	// TOTPSecret is the base32 TOTP secret (RFC 6238, SHA-1, 6 digits, 30
	// s). Empty means the user has no second factor and can never reach
	// ACRMFA.
	TOTPSecret string
}

// Subject is the stable sub claim for the user. It is derived from the
// username so that a demo restarted with fresh passwords still yields the
// same subjects, and the portal's records of who approved what stay linked.
func (u User) Subject() string {
	sum := sha256.Sum256([]byte("countersign-demoidp-subject:" + u.Username))
	return hex.EncodeToString(sum[:16])
}

// OTPAuthURI returns the otpauth:// URI for the user's TOTP secret, which
// `countersign demo` prints (or shows as a QR code) so the person can enrol
// it in an authenticator app. It fails if the user has no secret.
func (u User) OTPAuthURI() (string, error) {
	secret, err := decodeTOTPSecret(u.TOTPSecret)
	if err != nil {
		return "", fmt.Errorf("demoidp: otpauth uri for %q: %w", u.Username, err)
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      totpIssuer,
		AccountName: u.Username,
		Secret:      secret,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", fmt.Errorf("demoidp: otpauth uri for %q: %w", u.Username, err)
	}
	return key.URL(), nil
}

// WithRandomCredentials returns a copy of u with a fresh random password
// and a fresh random TOTP secret from crypto/rand. Demo credentials must
// never be predictable: a demo left running on a reachable port would
// otherwise be an open door.
func (u User) WithRandomCredentials() (User, error) {
	pw := make([]byte, 15)
	if _, err := rand.Read(pw); err != nil {
		return User{}, fmt.Errorf("demoidp: random password for %q: %w", u.Username, err)
	}
	secret := make([]byte, 20)
	if _, err := rand.Read(secret); err != nil {
		return User{}, fmt.Errorf("demoidp: random totp secret for %q: %w", u.Username, err)
	}
	out := u
	out.Groups = append([]string(nil), u.Groups...)
	out.Password = base64.RawURLEncoding.EncodeToString(pw)
	out.TOTPSecret = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
	return out, nil
}

// DefaultUsers returns the demo cast without credentials: two approvers in
// different groups (so policies that need one SRE and one security person
// can be tried), a requester and an auditor. Pass them through
// GenerateUsers or WithRandomCredentials before use; New refuses users
// without a password.
func DefaultUsers() []User {
	return []User{
		{Username: "alice", DisplayName: "Alice Approver (SRE)", Email: "alice@demo.countersign.invalid", Groups: []string{"sre"}},
		{Username: "bob", DisplayName: "Bob Approver (Security)", Email: "bob@demo.countersign.invalid", Groups: []string{"security"}},
		{Username: "carol", DisplayName: "Carol Requester (Dev)", Email: "carol@demo.countersign.invalid", Groups: []string{"dev"}},
		{Username: "dave", DisplayName: "Dave Auditor", Email: "dave@demo.countersign.invalid", Groups: []string{"audit"}},
	}
}

// GenerateUsers returns DefaultUsers with random passwords and TOTP
// secrets, ready for Config.Users and for printing by `countersign demo`.
func GenerateUsers() ([]User, error) {
	base := DefaultUsers()
	out := make([]User, 0, len(base))
	for _, u := range base {
		withCreds, err := u.WithRandomCredentials()
		if err != nil {
			return nil, err
		}
		out = append(out, withCreds)
	}
	return out, nil
}

// decodeTOTPSecret accepts the usual spellings of a base32 secret (any
// case, with or without padding or spaces) and rejects anything that would
// make a weak or broken factor.
func decodeTOTPSecret(s string) ([]byte, error) {
	clean := strings.ToUpper(strings.TrimRight(strings.ReplaceAll(s, " ", ""), "="))
	if clean == "" {
		return nil, fmt.Errorf("no totp secret")
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(clean)
	if err != nil {
		return nil, fmt.Errorf("totp secret is not base32: %w", err)
	}
	if len(raw) < 10 {
		return nil, fmt.Errorf("totp secret is %d bytes, want at least 10", len(raw))
	}
	return raw, nil
}
