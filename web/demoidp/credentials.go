package demoidp

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"sync"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/bcrypt"
)

// totpPeriod is the RFC 6238 time step used by every demo secret.
const totpPeriod = 30 * time.Second

// account is a User as the provider keeps it: the password only as a
// bcrypt hash, and the TOTP replay guard next to the secret.
type account struct {
	profile      User // Password is cleared
	subject      string
	passwordHash []byte
	totpSecret   string
}

// newAccount hashes the password and drops the clear text.
func newAccount(u User) (*account, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(u.Password), bcrypt.DefaultCost)
	if err != nil {
		return nil, fmt.Errorf("demoidp: hash password of %q: %w", u.Username, err)
	}
	profile := u
	profile.Password = ""
	profile.Groups = append([]string(nil), u.Groups...)
	return &account{
		profile:      profile,
		subject:      u.Subject(),
		passwordHash: hash,
		totpSecret:   u.TOTPSecret,
	}, nil
}

// credentialChecker verifies passwords, client secrets and TOTP codes. It
// owns the accounts because the TOTP replay guard needs a lock.
type credentialChecker struct {
	accounts  map[string]*account // by username
	bySubject map[string]*account
	// dummyHash is compared against when the username is unknown, so a
	// wrong username costs the same bcrypt time as a wrong password and
	// the response time does not reveal which usernames exist.
	dummyHash []byte

	mu       sync.Mutex
	lastStep map[string]int64 // username -> last accepted TOTP step
}

func newCredentialChecker(users []User) (*credentialChecker, error) {
	c := &credentialChecker{
		accounts:  make(map[string]*account, len(users)),
		bySubject: make(map[string]*account, len(users)),
		lastStep:  make(map[string]int64),
	}
	for _, u := range users {
		if err := u.validate(); err != nil {
			return nil, fmt.Errorf("demoidp: %w", err)
		}
		if _, dup := c.accounts[u.Username]; dup {
			return nil, fmt.Errorf("demoidp: duplicate username %q", u.Username)
		}
		a, err := newAccount(u)
		if err != nil {
			return nil, err
		}
		c.accounts[u.Username] = a
		c.bySubject[a.subject] = a
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("countersign-demoidp-no-such-user"), bcrypt.DefaultCost)
	if err != nil {
		return nil, fmt.Errorf("demoidp: hash dummy password: %w", err)
	}
	c.dummyHash = dummy
	return c, nil
}

// checkPassword returns the account when username and password match. It
// always runs one bcrypt comparison, whether or not the user exists.
func (c *credentialChecker) checkPassword(username, password string) (*account, bool) {
	a, known := c.accounts[username]
	hash := c.dummyHash
	if known {
		hash = a.passwordHash
	}
	ok := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	if !known || !ok {
		return nil, false
	}
	return a, true
}

// account returns the account for a subject, for userinfo and ID tokens.
func (c *credentialChecker) accountBySubject(sub string) (*account, bool) {
	a, ok := c.bySubject[sub]
	return a, ok
}

// checkTOTP accepts a code for the current step or one step either side
// (clock drift between phone and server), and refuses a code from a step
// at or before the last one this user already used, so a code seen over
// someone's shoulder cannot be replayed.
func (c *credentialChecker) checkTOTP(a *account, code string, now time.Time) bool {
	if a.totpSecret == "" || len(code) != 6 {
		return false
	}
	opts := totp.ValidateOpts{Period: uint(totpPeriod / time.Second), Skew: 0, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	matched := int64(-1)
	// Check every candidate step, not stopping at the first hit, so the
	// work done does not depend on which step matched.
	for _, offset := range []int64{-1, 0, 1} {
		at := now.Add(time.Duration(offset) * totpPeriod)
		ok, err := totp.ValidateCustom(code, a.totpSecret, at, opts)
		if err == nil && ok && matched < 0 {
			matched = at.Unix() / int64(totpPeriod/time.Second)
		}
	}
	if matched < 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if last, seen := c.lastStep[a.profile.Username]; seen && matched <= last {
		return false
	}
	c.lastStep[a.profile.Username] = matched
	return true
}

// secretDigest is how client secrets are kept: a digest compared in
// constant time, so neither the secret nor its length leaks via timing.
func secretDigest(secret string) [32]byte {
	return sha256.Sum256([]byte("countersign-demoidp-client-secret:" + secret))
}

func secretMatches(want [32]byte, given string) bool {
	got := secretDigest(given)
	return subtle.ConstantTimeCompare(want[:], got[:]) == 1
}
