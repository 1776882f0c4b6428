package passkey

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/countersign/countersign/models"
)

// Lifetimes of the challenges the portal hands out.
const (
	// EnrollTTL bounds a registration ceremony.
	EnrollTTL = 5 * time.Minute
	// DecideTTL bounds the time between showing a decision statement and
	// its signature: the passkey is the decision's fresh authentication.
	DecideTTL = 2 * time.Minute
)

// Auth is the sign-in behind a session: enrolment needs it fresh.
type Auth struct {
	Time time.Time
	ACR  string
	AMR  []string
}

// Config is how the passkey service runs.
type Config struct {
	// RP is the relying party passkeys are made for and checked against.
	RP RP
	// DisplayName is the relying party's name shown by authenticators.
	DisplayName string
	// Fresh reports whether a sign-in is fresh and strong enough to
	// enrol, rename or revoke a passkey: the portal passes the decision
	// step-up rule, so the same freshness guards both. Nil refuses all.
	Fresh func(a Auth, now time.Time) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service enrols, lists, renames and revokes passkeys and checks
// passkey-signed decisions. Every change is audited in its transaction.
type Service struct {
	store *models.Store
	cfg   Config
	wa    *webauthn.WebAuthn
}

// New returns a passkey service on store.
func New(store *models.Store, cfg Config) (*Service, error) {
	if cfg.DisplayName == "" {
		cfg.DisplayName = "Countersign"
	}
	wa, err := webauthn.New(&webauthn.Config{RPID: cfg.RP.ID, RPDisplayName: cfg.DisplayName, RPOrigins: cfg.RP.Origins})
	if err != nil {
		return nil, fmt.Errorf("passkey: relying party: %w", err)
	}
	return &Service{store: store, cfg: cfg, wa: wa}, nil
}

func (s *Service) clock() time.Time {
	now := time.Now
	if s.cfg.Now != nil {
		now = s.cfg.Now
	}
	return now().UTC().Truncate(time.Microsecond)
}

func (s *Service) fresh(a Auth, now time.Time) error {
	if s.cfg.Fresh == nil {
		return ErrNotFresh
	}
	if err := s.cfg.Fresh(a, now); err != nil {
		return fmt.Errorf("%w: %w", ErrNotFresh, err)
	}
	return nil
}

// newNonce is 32 random bytes in base64url.
func newNonce() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return Encode(b)
}

// UserHandle is the WebAuthn user handle of an IdP subject: a hash, so
// authenticators never hold the subject itself.
func UserHandle(subject string) []byte {
	h := sha256.Sum256([]byte("countersign user handle\n" + subject))
	return h[:]
}

// user adapts an owner to webauthn.User.
type user struct {
	owner models.Actor
	creds []webauthn.Credential
}

func (u user) WebAuthnID() []byte                         { return UserHandle(u.owner.ID) }
func (u user) WebAuthnName() string                       { return u.owner.Display }
func (u user) WebAuthnDisplayName() string                { return u.owner.Display }
func (u user) WebAuthnCredentials() []webauthn.Credential { return u.creds }
