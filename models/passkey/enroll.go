package passkey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
)

// MaxNameLen bounds a passkey's name.
const MaxNameLen = 64

// ValidateName trims a passkey name and checks it is short text.
func ValidateName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > MaxNameLen || !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", models.Invalid("name", fmt.Sprintf("must be 1–%d characters of text", MaxNameLen))
	}
	return name, nil
}

// Enrollment is a started registration ceremony: the options the browser
// passes to navigator.credentials.create, and the challenge's id.
type Enrollment struct {
	ID      string
	Options *protocol.CredentialCreation
}

// BeginEnroll starts enrolling a passkey for owner, whose sign-in must be
// fresh. User verification is required; the owner's passkeys are excluded,
// so one authenticator is not enrolled twice.
func (s *Service) BeginEnroll(ctx context.Context, owner models.Actor, auth Auth) (*Enrollment, error) {
	now := s.clock()
	if err := s.fresh(auth, now); err != nil {
		return nil, err
	}
	keys, err := s.List(ctx, owner.ID)
	if err != nil {
		return nil, err
	}
	var exclude []protocol.CredentialDescriptor
	for _, k := range keys {
		if id, err := Decode(k.CredentialID); err == nil && k.RevokedAt == nil {
			exclude = append(exclude, protocol.CredentialDescriptor{Type: protocol.PublicKeyCredentialType, CredentialID: id})
		}
	}
	opts, session, err := s.wa.BeginRegistration(user{owner: owner},
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{ResidentKey: protocol.ResidentKeyRequirementPreferred, UserVerification: protocol.VerificationRequired}),
		webauthn.WithExclusions(exclude))
	if err != nil {
		return nil, fmt.Errorf("passkey: begin enrolment: %w", err)
	}
	sj, err := json.Marshal(session)
	if err != nil {
		return nil, err
	}
	ch := models.PasskeyChallenge{ID: newNonce(), Kind: models.ChallengeEnroll, OwnerID: owner.ID, Session: string(sj), IssuedAt: now, ExpiresAt: now.Add(EnrollTTL)}
	if err := s.store.DB(ctx).Create(&ch).Error; err != nil {
		return nil, fmt.Errorf("passkey: store challenge: %w", err)
	}
	if err := pruneChallenges(s.store.DB(ctx), now); err != nil {
		return nil, err
	}
	return &Enrollment{ID: ch.ID, Options: opts}, nil
}

// FinishEnroll checks the browser's registration response for the
// ceremony challengeID and stores the passkey under name, with its
// passkey.enrolled audit event (which records the public key) in one
// transaction. The ceremony's challenge is used up.
func (s *Service) FinishEnroll(ctx context.Context, owner models.Actor, auth Auth, challengeID, name string, response []byte) (*models.Passkey, error) {
	now := s.clock()
	if err := s.fresh(auth, now); err != nil {
		return nil, err
	}
	name, err := ValidateName(name)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, fmt.Errorf("%w: registration response", ErrAssertionMalformed)
	}
	var pk models.Passkey
	err = s.store.WithTx(ctx, func(tx *gorm.DB) error {
		ch, err := consume(tx, challengeID, models.ChallengeEnroll, owner.ID, now)
		if err != nil {
			return err
		}
		var session webauthn.SessionData
		if err := json.Unmarshal([]byte(ch.Session), &session); err != nil {
			return fmt.Errorf("passkey: read ceremony: %w", err)
		}
		if !parsed.Response.AttestationObject.AuthData.Flags.UserVerified() {
			return ErrNoUserVerification
		}
		cred, err := s.wa.CreateCredential(user{owner: owner}, session, parsed)
		if err != nil {
			return ErrRegistration
		}
		if !cred.Flags.UserVerified {
			return ErrNoUserVerification
		}
		pk = models.Passkey{
			CredentialID: Encode(cred.ID), OwnerID: owner.ID, OwnerName: owner.Display, Name: name,
			PublicKey: Encode(cred.PublicKey), AAGUID: Encode(cred.Authenticator.AAGUID),
			SignCount: int64(cred.Authenticator.SignCount), CreatedAt: now,
		}
		var dup int64
		if err := tx.Model(&models.Passkey{}).Where("credential_id = ?", pk.CredentialID).Count(&dup).Error; err != nil {
			return fmt.Errorf("passkey: look up credential: %w", err)
		}
		if dup > 0 {
			return fmt.Errorf("this passkey is already enrolled: %w", models.ErrConflict)
		}
		if err := tx.Create(&pk).Error; err != nil {
			return fmt.Errorf("passkey: insert: %w", err)
		}
		_, err = audit.Append(tx, now, audit.Entry{Type: "passkey.enrolled", Actor: owner, Payload: map[string]any{
			"credential_id": pk.CredentialID, "name": pk.Name, "public_key": pk.PublicKey, "aaguid": pk.AAGUID,
			"sign_count": pk.SignCount, "user_verified": true, "rp_id": s.cfg.RP.ID,
		}})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: enrol: %w", err)
	}
	return &pk, nil
}

// consume uses up challenge id of kind for owner: it must exist, be
// unexpired and unused. The use is one compare-and-swap that returns the
// row (UPDATE … RETURNING, on SQLite and PostgreSQL alike), so of two
// concurrent uses exactly one wins and a decision pays one round trip;
// only a refused use reads the row again, to say why.
func consume(tx *gorm.DB, id string, kind models.PasskeyChallengeKind, ownerID string, now time.Time) (*models.PasskeyChallenge, error) {
	if id == "" {
		return nil, ErrChallengeUnknown
	}
	var used []models.PasskeyChallenge
	err := tx.Raw(`UPDATE passkey_challenges SET used_at = ? WHERE id = ? AND kind = ? AND owner_id = ? AND used_at IS NULL AND expires_at > ?
		RETURNING id, kind, owner_id, request_id, content_hash, verdict, session, issued_at, expires_at, used_at`,
		now, id, kind, ownerID, now).Scan(&used).Error
	if err != nil {
		return nil, fmt.Errorf("passkey: use challenge: %w", err)
	}
	if len(used) == 1 {
		return &used[0], nil
	}
	var ch models.PasskeyChallenge
	if err := tx.First(&ch, "id = ? AND kind = ?", id, kind).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, ErrChallengeUnknown
		}
		return nil, fmt.Errorf("passkey: load challenge: %w", err)
	}
	switch {
	case ch.OwnerID != ownerID:
		return nil, ErrChallengeUnknown
	case ch.UsedAt != nil:
		return nil, ErrChallengeUsed
	default:
		return nil, ErrChallengeExpired
	}
}
