package passkey

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
)

// Expect is the decision a passkey assertion must be for: built by
// Decide from the decision being recorded, never from the browser.
type Expect struct {
	RequestID   string
	ContentHash string
	Verdict     string
	ApproverID  string
}

// Proof is what the browser sends with a passkey-signed decision: the
// nonce of the statement it signed, and the assertion.
type Proof struct {
	Nonce     string
	Assertion Assertion
}

// Evidence is a checked passkey signature, stored with the decision.
type Evidence struct {
	CredentialID string
	Statement    string
	Assertion    Assertion
	SignCount    uint32
	// IssuedAt is when the signed statement was issued: the newest the
	// approver's authentication can be known to be.
	IssuedAt time.Time
}

// Challenge is a decision statement ready to sign: the statement, and
// the options the browser passes to navigator.credentials.get.
type Challenge struct {
	Statement Statement
	Text      string
	Options   protocol.PublicKeyCredentialRequestOptions
}

// IssueDecision writes a single-use nonce for want and returns the
// statement to sign, whose hash is the challenge, restricted to the
// approver's unrevoked passkeys and requiring user verification. The
// caller checks first that the decision would be accepted.
func (s *Service) IssueDecision(ctx context.Context, want Expect) (*Challenge, error) {
	now := s.clock()
	var keys []models.Passkey
	db := s.store.DB(ctx)
	if err := db.Where("owner_id = ? AND revoked_at IS NULL", want.ApproverID).Order("id").Find(&keys).Error; err != nil {
		return nil, fmt.Errorf("passkey: list: %w", err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: enrol one first", ErrUnknownCredential)
	}
	st := Statement{RequestID: want.RequestID, ContentHash: want.ContentHash, Verdict: want.Verdict, Approver: want.ApproverID, Nonce: newNonce(), IssuedAt: now}
	text, err := st.Canonical()
	if err != nil {
		return nil, err
	}
	ch := models.PasskeyChallenge{ID: st.Nonce, Kind: models.ChallengeDecide, OwnerID: want.ApproverID, RequestID: want.RequestID,
		ContentHash: want.ContentHash, Verdict: want.Verdict, IssuedAt: now, ExpiresAt: now.Add(DecideTTL)}
	if err := db.Create(&ch).Error; err != nil {
		return nil, fmt.Errorf("passkey: store challenge: %w", err)
	}
	if err := pruneChallenges(db, now); err != nil {
		return nil, err
	}
	challenge, _ := st.Challenge()
	opts := protocol.PublicKeyCredentialRequestOptions{
		Challenge: challenge, Timeout: int(DecideTTL.Milliseconds()), RelyingPartyID: s.cfg.RP.ID,
		UserVerification: protocol.VerificationRequired,
	}
	for _, k := range keys {
		if id, err := Decode(k.CredentialID); err == nil {
			opts.AllowedCredentials = append(opts.AllowedCredentials, protocol.CredentialDescriptor{Type: protocol.PublicKeyCredentialType, CredentialID: id})
		}
	}
	return &Challenge{Statement: st, Text: string(text), Options: opts}, nil
}

// challengeRetention is how long a challenge row outlives its expiry: an
// expired challenge is refused either way, so its row only tells why.
const challengeRetention = time.Hour

// pruneChallenges deletes challenges expired for longer than
// challengeRetention, so the table holds only the last hour's (indexed by
// expiry; run whenever a challenge is issued).
func pruneChallenges(db *gorm.DB, now time.Time) error {
	if err := db.Where("expires_at < ?", now.Add(-challengeRetention)).Delete(&models.PasskeyChallenge{}).Error; err != nil {
		return fmt.Errorf("passkey: prune challenges: %w", err)
	}
	return nil
}

// CounterError is a signature counter that did not go up: a cloned
// authenticator, or a replayed assertion. It matches ErrCounterRegressed.
type CounterError struct {
	CredentialID string
	Stored, Got  uint32
}

// Error says which credential and which counters, for the log.
func (e *CounterError) Error() string {
	return fmt.Sprintf("passkey %s: counter %d after %d: %v", e.CredentialID, e.Got, e.Stored, ErrCounterRegressed)
}

// Is lets errors.Is(err, ErrCounterRegressed) match.
func (e *CounterError) Is(target error) bool {
	return target == ErrCounterRegressed || errors.Is(ErrCounterRegressed, target)
}

// CheckDecision checks, inside the decision's transaction tx, that p is a
// passkey signature of the decision want: the nonce was issued to this
// approver for this request, content and verdict, is unexpired and is used
// up now; the credential is enrolled, the approver's, and not revoked; the
// assertion signs the statement rebuilt from want (Verify); the counter
// went up (unless the authenticator keeps none). The passkey's counter and
// last use are updated in tx.
func (s *Service) CheckDecision(tx *gorm.DB, now time.Time, want Expect, p Proof) (*Evidence, error) {
	got, ok := presentedCounter(p.Assertion)
	if !ok {
		return nil, ErrAssertionMalformed
	}
	use := useInTurn
	if tx.Dialector.Name() == "postgres" {
		use = useInOneTrip
	}
	ch, cred, err := use(tx, now, want, p, got)
	if err != nil {
		return nil, err
	}
	if ch.RequestID != want.RequestID || ch.ContentHash != want.ContentHash || ch.Verdict != want.Verdict {
		return nil, ErrChallengeOther
	}
	st := Statement{RequestID: want.RequestID, ContentHash: want.ContentHash, Verdict: want.Verdict, Approver: want.ApproverID, Nonce: ch.ID, IssuedAt: ch.IssuedAt.UTC()}
	if cred == nil {
		return nil, s.credentialRefused(tx, st, p.Assertion, want.ApproverID, got)
	}
	checked, err := Verify(st, p.Assertion, cred.publicKey, s.cfg.RP)
	if err != nil {
		return nil, err
	}
	text, _ := st.Canonical()
	return &Evidence{CredentialID: cred.id, Statement: string(text), Assertion: p.Assertion, SignCount: checked.SignCount, IssuedAt: st.IssuedAt}, nil
}

// usedCredential is the passkey a decision's statement advanced: found,
// the approver's, not revoked, its counter moved to the presented one. The
// transaction rolls that back unless the signature then verifies.
type usedCredential struct{ id, publicKey string }

// useInTurn uses up the nonce (consume, which says why it was refused)
// and then checks and advances the credential: two statements, each cheap
// on SQLite, which runs in process. A nil credential with a nil error: the
// credential was refused (credentialRefused says why).
func useInTurn(tx *gorm.DB, now time.Time, want Expect, p Proof, got uint32) (*models.PasskeyChallenge, *usedCredential, error) {
	ch, err := consume(tx, p.Nonce, models.ChallengeDecide, want.ApproverID, now)
	if err != nil {
		return nil, nil, err
	}
	var rows []usedCredentialRow
	if err := tx.Raw(`UPDATE passkeys SET sign_count = ?, last_used_at = ?
		WHERE credential_id = ? AND owner_id = ? AND revoked_at IS NULL AND (sign_count < ? OR (? = 0 AND sign_count = 0))
		RETURNING credential_id, public_key`,
		int64(got), now, p.Assertion.CredentialID, want.ApproverID, int64(got), int64(got)).Scan(&rows).Error; err != nil {
		return nil, nil, fmt.Errorf("passkey: use credential: %w", err)
	}
	if len(rows) != 1 {
		return ch, nil, nil
	}
	return ch, &usedCredential{id: rows[0].CredentialID, publicKey: rows[0].PublicKey}, nil
}

// usedCredentialRow is what the credential's UPDATE returns.
type usedCredentialRow struct {
	CredentialID string
	PublicKey    string
}

// useBoth, on PostgreSQL, uses up the nonce and checks and advances the
// credential in one statement (one round trip instead of two): the
// credential is touched only when the nonce was. No row: the nonce was
// refused; a row without a credential: the credential was.
const useBoth = `WITH ch AS (
		UPDATE passkey_challenges SET used_at = ?
		WHERE id = ? AND kind = ? AND owner_id = ? AND used_at IS NULL AND expires_at > ?
		RETURNING id, request_id, content_hash, verdict, issued_at
	), pk AS (
		UPDATE passkeys SET sign_count = ?, last_used_at = ?
		WHERE credential_id = ? AND owner_id = ? AND revoked_at IS NULL AND (sign_count < ? OR (? = 0 AND sign_count = 0))
		AND EXISTS (SELECT 1 FROM ch)
		RETURNING credential_id, public_key
	)
	SELECT ch.id, ch.request_id, ch.content_hash, ch.verdict, ch.issued_at, pk.credential_id, pk.public_key FROM ch LEFT JOIN pk ON true`

// useInOneTrip is useInTurn in one round trip (useBoth), for PostgreSQL.
func useInOneTrip(tx *gorm.DB, now time.Time, want Expect, p Proof, got uint32) (*models.PasskeyChallenge, *usedCredential, error) {
	if p.Nonce == "" {
		return nil, nil, ErrChallengeUnknown
	}
	rows, err := tx.Raw(useBoth, now, p.Nonce, models.ChallengeDecide, want.ApproverID, now,
		int64(got), now, p.Assertion.CredentialID, want.ApproverID, int64(got), int64(got)).Rows()
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: use challenge and credential: %w", err)
	}
	var ch models.PasskeyChallenge
	var credID, publicKey sql.NullString
	found := rows.Next()
	if found {
		err = rows.Scan(&ch.ID, &ch.RequestID, &ch.ContentHash, &ch.Verdict, &ch.IssuedAt, &credID, &publicKey)
	}
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = rows.Err()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: use challenge and credential: %w", err)
	}
	if !found {
		// Nothing was used: consume says why (its update finds nothing
		// either).
		if _, err := consume(tx, p.Nonce, models.ChallengeDecide, want.ApproverID, now); err != nil {
			return nil, nil, err
		}
		return nil, nil, ErrChallengeUnknown
	}
	if !credID.Valid {
		return &ch, nil, nil
	}
	return &ch, &usedCredential{id: credID.String, publicKey: publicKey.String}, nil
}

// presentedCounter reads the signature counter from the assertion's
// authenticator data (bytes 33–36), before anything is verified; Verify
// reads the same bytes under the signature.
func presentedCounter(a Assertion) (uint32, bool) {
	ad, err := Decode(a.AuthenticatorData)
	if err != nil || len(ad) < 37 {
		return 0, false
	}
	return binary.BigEndian.Uint32(ad[33:37]), true
}

// credentialRefused says why the credential of a could not be used by
// approverID: unknown, someone else's, revoked, or — only when a's
// signature verifies with its key, so no forged assertion can raise it — a
// counter that did not go up (*CounterError).
func (s *Service) credentialRefused(tx *gorm.DB, st Statement, a Assertion, approverID string, got uint32) error {
	var pk models.Passkey
	if err := tx.First(&pk, "credential_id = ?", a.CredentialID).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrUnknownCredential
		}
		return fmt.Errorf("passkey: load credential: %w", err)
	}
	switch {
	case pk.OwnerID != approverID:
		return ErrNotOwner
	case pk.RevokedAt != nil:
		return ErrRevoked
	}
	if _, err := Verify(st, a, pk.PublicKey, s.cfg.RP); err != nil {
		return err
	}
	return &CounterError{CredentialID: pk.CredentialID, Stored: uint32(pk.SignCount), Got: got}
}

// RecordCloneWarning audits a counter that went backwards, in its own
// transaction: the decision it came with was refused and rolled back,
// and the warning must outlive it.
func (s *Service) RecordCloneWarning(ctx context.Context, actor models.Actor, requestID string, ce *CounterError) error {
	now := s.clock()
	return s.store.WithTx(ctx, func(tx *gorm.DB) error {
		_, err := audit.Append(tx, now, audit.Entry{Type: "passkey.clone_warning", Actor: actor, RequestID: requestID, Payload: map[string]any{
			"credential_id": ce.CredentialID, "stored_count": ce.Stored, "presented_count": ce.Got,
		}})
		return err
	})
}
