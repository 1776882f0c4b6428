package passkey

import (
	"context"
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

// CounterError is a signature counter that did not go up: a cloned
// authenticator, or a replayed assertion. It matches ErrCounterRegressed.
type CounterError struct {
	CredentialID string
	Stored, Got  uint32
}

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
	ch, err := consume(tx, p.Nonce, models.ChallengeDecide, want.ApproverID, now)
	if err != nil {
		return nil, err
	}
	if ch.RequestID != want.RequestID || ch.ContentHash != want.ContentHash || ch.Verdict != want.Verdict {
		return nil, ErrChallengeOther
	}
	var pk models.Passkey
	if err := tx.First(&pk, "credential_id = ?", p.Assertion.CredentialID).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, ErrUnknownCredential
		}
		return nil, fmt.Errorf("passkey: load credential: %w", err)
	}
	if pk.OwnerID != want.ApproverID {
		return nil, ErrNotOwner
	}
	if pk.RevokedAt != nil {
		return nil, ErrRevoked
	}
	st := Statement{RequestID: want.RequestID, ContentHash: want.ContentHash, Verdict: want.Verdict, Approver: want.ApproverID, Nonce: ch.ID, IssuedAt: ch.IssuedAt.UTC()}
	checked, err := Verify(st, p.Assertion, pk.PublicKey, s.cfg.RP)
	if err != nil {
		return nil, err
	}
	stored := uint32(pk.SignCount)
	if (checked.SignCount != 0 || stored != 0) && checked.SignCount <= stored {
		return nil, &CounterError{CredentialID: pk.CredentialID, Stored: stored, Got: checked.SignCount}
	}
	if err := tx.Model(&models.Passkey{}).Where("id = ?", pk.ID).Updates(map[string]any{"sign_count": int64(checked.SignCount), "last_used_at": now}).Error; err != nil {
		return nil, fmt.Errorf("passkey: update counter: %w", err)
	}
	text, _ := st.Canonical()
	return &Evidence{CredentialID: pk.CredentialID, Statement: string(text), Assertion: p.Assertion, SignCount: checked.SignCount}, nil
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
