package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/countersign/countersign/web/oidcrp"
)

// PendingLogin is a sign-in in progress: what oidcrp.Begin returned (state,
// nonce, PKCE verifier — secrets, hence server-side only) and where to go
// afterwards.
type PendingLogin struct {
	// OIDC is handed back to oidcrp.Complete at the callback.
	OIDC oidcrp.Pending `json:"oidc"`
	// Next is the (already vetted) local path to return to after sign-in.
	Next string `json:"next,omitempty"`
	// StepUp marks a re-authentication for a decision; the callback then
	// expects a PendingDecision too.
	StepUp bool `json:"step_up,omitempty"`
	// Again marks a signed-in person's fresh sign-in (to add or change a
	// passkey, say): the callback accepts only the same person and keeps
	// the session's absolute deadline.
	Again bool `json:"again,omitempty"`
}

// PendingDecision is an approve or deny waiting for its step-up: exactly
// what the person submitted, and whom and since when the fresh
// authentication must prove.
type PendingDecision struct {
	// RequestID is the request decided on.
	RequestID string `json:"request_id"`
	// Verdict is "approve" or "deny".
	Verdict string `json:"verdict"`
	// Comment is the approver's comment (the reason, for a deny).
	Comment string `json:"comment,omitempty"`
	// ContentHash is the content hash of the page the approver saw.
	ContentHash string `json:"content_hash"`
	// ChallengedAt is when the step-up was asked for; the new auth_time
	// must not be earlier.
	ChallengedAt time.Time `json:"challenged_at"`
	// Issuer and Subject are who must authenticate: the session's user.
	Issuer  string `json:"iss"`
	Subject string `json:"sub"`
}

// SetPending records a sign-in in progress on sess, and the decision it is
// a step-up for (nil for a plain sign-in). It replaces whatever was pending:
// only the latest sign-in of a browser can complete.
func (s *Store) SetPending(ctx context.Context, sess *Session, login PendingLogin, decision *PendingDecision) error {
	lp, err := json.Marshal(login)
	if err != nil {
		return fmt.Errorf("session: encode pending sign-in: %w", err)
	}
	dp := ""
	if decision != nil {
		b, err := json.Marshal(decision)
		if err != nil {
			return fmt.Errorf("session: encode pending decision: %w", err)
		}
		dp = string(b)
	}
	var n int64
	err = s.db.WithTx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&row{}).Where("id_hash = ?", sess.idHash).
			Updates(map[string]any{"login_pending": string(lp), "decision_pending": dp})
		n = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return fmt.Errorf("session: save pending sign-in: %w", err)
	}
	if n == 0 {
		return ErrNoSession
	}
	return nil
}

// TakePending removes and returns the sign-in in progress on sess and its
// pending decision (nil when it is a plain sign-in). It succeeds once per
// SetPending: a second call — a replayed or doubled callback — gets
// ErrNoPending, even when both run at the same moment.
func (s *Store) TakePending(ctx context.Context, sess *Session) (PendingLogin, *PendingDecision, error) {
	var r row
	err := s.db.WithTx(ctx, func(tx *gorm.DB) error {
		r = row{}
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Select("id_hash", "login_pending", "decision_pending").
			Where("id_hash = ?", sess.idHash).Take(&r).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrNoSession
		}
		if err != nil {
			return err
		}
		if r.LoginPending == "" {
			return ErrNoPending
		}
		// Compare-and-swap, so that of two concurrent takers exactly one
		// sees the row still pending.
		res := tx.Model(&row{}).Where("id_hash = ? AND login_pending = ?", r.IDHash, r.LoginPending).
			Updates(map[string]any{"login_pending": "", "decision_pending": ""})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrNoPending
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNoPending) || errors.Is(err, ErrNoSession) {
			return PendingLogin{}, nil, err
		}
		return PendingLogin{}, nil, fmt.Errorf("session: take pending sign-in: %w", err)
	}
	var login PendingLogin
	if err := json.Unmarshal([]byte(r.LoginPending), &login); err != nil {
		return PendingLogin{}, nil, fmt.Errorf("session: decode pending sign-in: %w", err)
	}
	if r.DecisionPending == "" {
		return login, nil, nil
	}
	var d PendingDecision
	if err := json.Unmarshal([]byte(r.DecisionPending), &d); err != nil {
		return PendingLogin{}, nil, fmt.Errorf("session: decode pending decision: %w", err)
	}
	return login, &d, nil
}
