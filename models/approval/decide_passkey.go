package approval

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/passkey"
)

// passkeyEvidence is a checked passkey signature of a decision.
type passkeyEvidence struct{ *passkey.Evidence }

// checkStepUp applies the decision's step-up rule inside its transaction:
// a rule that requires a passkey accepts only a passkey signature of this
// decision's statement; any other rule accepts one too (it is fresh and
// user-verified) or else the IdP step-up. It returns the passkey evidence
// when a passkey signed the decision.
func (s *Service) checkStepUp(tx *gorm.DB, r *models.Request, rule StepUpRule, d Decision, now time.Time) (*passkeyEvidence, error) {
	if d.Passkey == nil {
		if rule.Passkey {
			return nil, passkey.ErrPasskeyRequired
		}
		return nil, rule.Check(d.StepUp, now)
	}
	if s.cfg.Passkeys == nil {
		return nil, passkey.ErrPasskeyRequired
	}
	ev, err := s.cfg.Passkeys.CheckDecision(tx, now, passkey.Expect{
		RequestID: r.ID, ContentHash: r.ContentHash, Verdict: string(d.Verdict), ApproverID: d.Approver.Actor.ID,
	}, *d.Passkey)
	if err != nil {
		return nil, err
	}
	// The rule's max_age holds for a passkey too: the signature is no
	// fresher than the statement it signs.
	if err := rule.withDefaults().checkFresh(ev.IssuedAt, now); err != nil {
		return nil, err
	}
	return &passkeyEvidence{ev}, nil
}

// PasskeyChallenge issues the statement approver a signs with a passkey
// to decide request id with verdict on the content with hash contentHash,
// after preparing the decision (PrepareDecision: visibility, CanDecide,
// the conversation read again) and checking the verdict, so nobody
// touches their passkey only to be refused.
func (s *Service) PasskeyChallenge(ctx context.Context, a Approver, id string, verdict models.Verdict, comment, contentHash string) (*passkey.Challenge, error) {
	if _, err := ValidateVerdict(verdict, comment); err != nil {
		return nil, err
	}
	if s.cfg.Passkeys == nil {
		return nil, passkey.ErrPasskeyRequired
	}
	prep, err := s.PrepareDecision(ctx, a, id, contentHash)
	if err != nil {
		return nil, err
	}
	r := prep.Request
	return s.cfg.Passkeys.IssueDecision(ctx, passkey.Expect{RequestID: r.ID, ContentHash: r.ContentHash, Verdict: string(verdict), ApproverID: a.Actor.ID})
}

// fill records the evidence on the decision row.
func (pk *passkeyEvidence) fill(dec *models.Decision, now time.Time) {
	dec.AuthTime, dec.ACR, dec.AMR, dec.IDTokenHash = pk.IssuedAt, "", "passkey", ""
	dec.PasskeyCredentialID, dec.PasskeyStatement = pk.CredentialID, pk.Statement
	dec.PasskeyAuthenticatorData, dec.PasskeyClientDataJSON, dec.PasskeySignature = pk.Assertion.AuthenticatorData, pk.Assertion.ClientDataJSON, pk.Assertion.Signature
}

// payload is the step-up evidence of a passkey-signed decision as its
// audit event and receipt record it: enough, with the enrolment event's
// public key, to check the signature offline.
func (pk *passkeyEvidence) payload(dec *models.Decision) map[string]any {
	return map[string]any{
		"auth_time": dec.AuthTime.Format(rfc3339Micro), "method": "passkey",
		"passkey": map[string]any{
			"credential_id": pk.CredentialID, "statement": pk.Statement, "sign_count": pk.SignCount,
			"authenticator_data": pk.Assertion.AuthenticatorData, "client_data_json": pk.Assertion.ClientDataJSON,
			"signature": pk.Assertion.Signature,
		},
	}
}

// recordCloneWarning audits a passkey whose counter went backwards; the
// decision itself was refused. It returns the failure to audit, which
// does not change the refusal.
func (s *Service) recordCloneWarning(ctx context.Context, d Decision, err error) error {
	var ce *passkey.CounterError
	if s.cfg.Passkeys == nil || !errors.As(err, &ce) {
		return nil
	}
	return s.cfg.Passkeys.RecordCloneWarning(ctx, d.Approver.Actor, d.RequestID, ce)
}
