package models

import "time"

// Passkey is an approver's WebAuthn credential, enrolled in the portal.
// Binary values are stored as unpadded base64url text, the form WebAuthn
// itself uses on the wire.
type Passkey struct {
	ID int64 `gorm:"primaryKey"`
	// CredentialID is the authenticator's credential id (base64url).
	CredentialID string
	// OwnerID is the IdP subject of the approver who enrolled it.
	OwnerID   string
	OwnerName string
	// Name is what the owner calls it ("laptop", "yubikey").
	Name string
	// PublicKey is the COSE public key (base64url), also recorded in the
	// enrollment's audit event.
	PublicKey string
	AAGUID    string `gorm:"column:aaguid"`
	// SignCount is the authenticator's signature counter last seen.
	SignCount  int64
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// TableName pins the table name.
func (Passkey) TableName() string { return "passkeys" }

// PasskeyChallengeKind says what a passkey challenge is for.
type PasskeyChallengeKind string

// Kinds of passkey challenge.
const (
	// ChallengeEnroll is a registration ceremony's challenge.
	ChallengeEnroll PasskeyChallengeKind = "enroll"
	// ChallengeDecide is a decision statement's single-use nonce.
	ChallengeDecide PasskeyChallengeKind = "decide"
)

// PasskeyChallenge is a single-use server nonce handed to one approver:
// for enrolling a passkey, or for signing one decision statement (the
// request, content and verdict it was issued for are kept with it).
type PasskeyChallenge struct {
	ID          string `gorm:"primaryKey"`
	Kind        PasskeyChallengeKind
	OwnerID     string
	RequestID   string
	ContentHash string
	Verdict     string
	// Session is the registration ceremony's state (JSON), for enroll.
	Session   string
	IssuedAt  time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// TableName pins the table name.
func (PasskeyChallenge) TableName() string { return "passkey_challenges" }
