package approval

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/lifecycle"
	"github.com/countersign/countersign/models/passkey"
)

// rfc3339Micro is the text form of times inside audit payloads.
const rfc3339Micro = "2006-01-02T15:04:05.000000Z07:00"

// loadLocked loads request id without its children and, on PostgreSQL,
// locks its row until the transaction ends (SQLite's BEGIN IMMEDIATE
// already serialises writers), so that changes counted against it are
// counted one at a time.
func loadLocked(tx *gorm.DB, id string) (*models.Request, error) {
	var r models.Request
	q := tx.Omit("Posts", "ToolCalls", "Decisions")
	if tx.Dialector.Name() == "postgres" {
		q = q.Clauses(lockForUpdate)
	}
	if err := q.First(&r, "id = ?", id).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("request %s: %w", id, models.ErrNotFound)
		}
		return nil, fmt.Errorf("load request %s: %w", id, err)
	}
	return &r, nil
}

// lockForUpdate locks the loaded row until the transaction ends (PostgreSQL;
// SQLite's write transaction already excludes other writers).
var lockForUpdate = clause.Locking{Strength: "UPDATE"}

// Reasons a decision is refused. Each wraps a sentinel of package models,
// so the web layer maps them without knowing them.
var (
	// ErrSelfDecision: nobody decides their own request.
	ErrSelfDecision = fmt.Errorf("you cannot decide your own request: %w", models.ErrForbidden)
	// ErrSponsorDecision: an agent's sponsor does not approve its requests.
	ErrSponsorDecision = fmt.Errorf("an agent's sponsor cannot approve that agent's request: %w", models.ErrForbidden)
	// ErrNotApprover: the person's roles do not allow deciding.
	ErrNotApprover = fmt.Errorf("your roles do not allow deciding requests: %w", models.ErrForbidden)
	// ErrContentChanged: what the approver was shown is no longer what is
	// asked; they must look again.
	ErrContentChanged = fmt.Errorf("the request changed after you opened it: %w", models.ErrConflict)
	// ErrAlreadyDecided: this person already decided this content.
	ErrAlreadyDecided = fmt.Errorf("you already decided this request: %w", models.ErrConflict)
	// ErrNotPending: the request is no longer open for decisions.
	ErrNotPending = fmt.Errorf("the request is no longer pending: %w", models.ErrConflict)
	// ErrExpired: the request's time ran out before this decision.
	ErrExpired = fmt.Errorf("the request expired: %w", models.ErrConflict)
)

// MaxCommentLen bounds a decision comment.
const MaxCommentLen = 2000

// Decision asks to record one approver's verdict.
type Decision struct {
	RequestID string
	Approver  Approver
	Verdict   models.Verdict
	Comment   string
	// ContentHash is the hash of what the approver was shown.
	ContentHash string
	StepUp      StepUp
	// Passkey, when set, is a passkey signature of this decision's
	// statement: it stands in for the IdP step-up, and a rule that
	// requires a passkey accepts nothing else.
	Passkey *passkey.Proof
}

// Outcome is what a recorded decision did.
type Outcome struct {
	Request  *models.Request
	Decision *models.Decision
	// Approvals counts distinct approvers of the current content.
	Approvals int
	// Transitioned is true when this decision moved the request to
	// approved or denied.
	Transitioned bool
}

// Check applies the rules that do not need the database: who may decide
// this request at all. The portal uses it to show or hide decision forms;
// Decide applies it again inside the transaction.
//
// The personal reasons (own request, the agent's sponsor) come before the
// role check, so a requester is told why they of all people may not decide.
func (s *Service) Check(r *models.Request, a Approver) error {
	if r.MadeBy(a.Actor.ID, a.Username) {
		return ErrSelfDecision
	}
	if !s.cfg.SponsorMayApprove && r.SponsoredBy(a.Actor.ID, a.Username) {
		return ErrSponsorDecision
	}
	if !s.mayDecide(r, a) {
		return ErrNotApprover
	}
	return nil
}

// ValidateVerdict checks a verdict and its comment and returns the comment
// trimmed: the comment must be text of bounded size, and a deny must give a
// reason. Forms call it before sending anyone to re-authenticate, so nobody
// steps up only to fail here; Decide applies it again.
func ValidateVerdict(v models.Verdict, comment string) (string, error) {
	if !v.Valid() {
		return "", models.Invalid("verdict", "choose approve or deny")
	}
	comment = strings.TrimSpace(comment)
	if !utf8.ValidString(comment) || len(comment) > MaxCommentLen {
		return "", models.Invalid("comment", fmt.Sprintf("must be text of at most %d bytes", MaxCommentLen))
	}
	if v == models.VerdictDeny && comment == "" {
		return "", models.Invalid("comment", "a reason is required to deny")
	}
	return comment, nil
}

// CanDecide reports whether a decision by a on r, made on the content
// with hash contentHash, would be accepted now: the approver may decide
// (Check), the request is pending and unexpired, and the content is still
// what the approver was shown. The portal calls it before asking for a
// step-up, so nobody re-authenticates only to be refused; Decide applies
// it again, inside its transaction, on the locked row.
func (s *Service) CanDecide(r *models.Request, a Approver, contentHash string) error {
	if err := s.Check(r, a); err != nil {
		return err
	}
	if r.State != models.StatePending {
		return fmt.Errorf("request %s is %s: %w", r.ID, r.State, ErrNotPending)
	}
	if !s.clock().Before(r.ExpiresAt) {
		return fmt.Errorf("request %s expired at %s: %w", r.ID, r.ExpiresAt.Format("15:04:05Z"), ErrExpired)
	}
	if contentHash != r.ContentHash {
		return ErrContentChanged
	}
	return nil
}

func (d *Decision) validate() error {
	comment, err := ValidateVerdict(d.Verdict, d.Comment)
	if err != nil {
		return err
	}
	d.Comment = comment
	if d.ContentHash == "" {
		return models.Invalid("content_hash", "is required")
	}
	if err := d.Approver.Actor.Validate("approver"); err != nil || d.Approver.Actor.Type != models.ActorHuman {
		return models.Invalid("approver", "must be a signed-in person")
	}
	if d.Passkey == nil && d.StepUp.AuthTime.IsZero() {
		return models.Invalid("step_up", "authentication time is required")
	}
	return nil
}

// Decide records d and, when it completes the request, moves the request to
// approved (enough distinct approvals of the current content) or denied (one
// deny ends it). The request row is locked first, so decisions on one
// request — from any number of processes — are counted one at a time and
// exactly one of them makes the final transition. Decision, transition and
// their audit events commit together or not at all.
func (s *Service) Decide(ctx context.Context, d Decision) (*Outcome, error) {
	if err := d.validate(); err != nil {
		return nil, err
	}
	var out Outcome
	err := s.store.WithTx(ctx, func(tx *gorm.DB) error {
		out = Outcome{}
		r, err := loadLocked(tx, d.RequestID)
		if err != nil {
			return err
		}
		if err := s.CanDecide(r, d.Approver, d.ContentHash); err != nil {
			return err
		}
		now := s.clock()
		rule := s.StepUpFor(r)
		pk, err := s.checkStepUp(tx, r, rule, d, now)
		if err != nil {
			return fmt.Errorf("request %s: %w", r.ID, err)
		}
		var prior int64
		if err := tx.Model(&models.Decision{}).Where("request_id = ? AND approver_id = ? AND content_hash = ?", r.ID, d.Approver.Actor.ID, r.ContentHash).Count(&prior).Error; err != nil {
			return fmt.Errorf("count decisions: %w", err)
		}
		if prior > 0 {
			return ErrAlreadyDecided
		}
		dec := &models.Decision{
			RequestID: r.ID, ApproverID: d.Approver.Actor.ID, ApproverName: d.Approver.Actor.Display,
			ApproverUsername: strings.ToLower(d.Approver.Username),
			Verdict:          d.Verdict, Comment: d.Comment, ContentHash: r.ContentHash,
			AuthTime: d.StepUp.AuthTime.UTC().Truncate(time.Microsecond), ACR: d.StepUp.ACR, AMR: strings.Join(d.StepUp.AMR, " "),
			IDTokenHash: d.StepUp.IDTokenHash, PasswordOnly: pk == nil && rule.PasswordOnly(), CreatedAt: now,
		}
		if pk != nil {
			pk.fill(dec, now)
		}
		if err := tx.Create(dec).Error; err != nil {
			return fmt.Errorf("insert decision: %w", err)
		}
		if _, err := audit.Append(tx, now, audit.Entry{
			Type: "decision." + string(d.Verdict), Actor: d.Approver.Actor, RequestID: r.ID, Purpose: r.Purpose,
			Action: r.Action, PolicyRef: r.PolicyRef,
			Payload: map[string]any{
				"comment": dec.Comment, "content_hash": dec.ContentHash, "roles": d.Approver.Roles,
				"step_up": stepUpPayload(dec, d.StepUp.AMR, pk),
			},
		}); err != nil {
			return err
		}
		if err := tx.Where("request_id = ?", r.ID).Order("id").Find(&r.Decisions).Error; err != nil {
			return fmt.Errorf("load decisions: %w", err)
		}
		out.Approvals = r.Tally().Approved()
		to := models.State("")
		reason := ""
		switch {
		case d.Verdict == models.VerdictDeny:
			to, reason = models.StateDenied, "denied by "+d.Approver.Actor.Display
		case out.Approvals >= r.RequiredApprovals:
			to, reason = models.StateApproved, fmt.Sprintf("%d of %d approvals", out.Approvals, r.RequiredApprovals)
		}
		from := r.State
		if err := s.bump(tx, r, to, now, d.Approver.Actor, reason); err != nil {
			return err
		}
		out.Request, out.Decision, out.Transitioned = r, dec, to != ""
		return s.runHooks(tx, Change{Kind: ChangeDecided, Request: r, From: from, To: r.State, Decision: dec, Actor: d.Approver.Actor, Reason: reason, At: now})
	})
	if err != nil {
		if aerr := s.recordCloneWarning(ctx, d, err); aerr != nil {
			// The refusal stands; the caller logs that it went unaudited.
			return nil, fmt.Errorf("approval: decide: %w (the passkey clone warning was not audited: %v)", err, aerr)
		}
		return nil, fmt.Errorf("approval: decide: %w", err)
	}
	return &out, nil
}

// stepUpPayload is the decision's step-up evidence as its audit event
// (and so its receipt) records it. A decision whose rule accepted a
// password alone says so in words, where no verifier can miss it.
func stepUpPayload(dec *models.Decision, amr []string, pk *passkeyEvidence) map[string]any {
	if pk != nil {
		return pk.payload(dec)
	}
	p := map[string]any{"auth_time": dec.AuthTime.Format(rfc3339Micro), "acr": dec.ACR, "amr": amr, "id_token_sha256": dec.IDTokenHash}
	if dec.PasswordOnly {
		p["strength"] = models.StrengthPasswordOnly
	}
	return p
}

// bump increments the request's version (compare-and-swap) and, when to is
// set, moves it there with its own audit event.
func (s *Service) bump(tx *gorm.DB, r *models.Request, to models.State, now time.Time, actor models.Actor, reason string) error {
	updates := map[string]any{"version": r.Version + 1, "updated_at": now}
	from := r.State
	if to != "" {
		if err := lifecycle.Check(from, to); err != nil {
			return err
		}
		updates["state"] = to
	}
	res := tx.Model(&models.Request{}).Where("id = ? AND state = ? AND version = ?", r.ID, from, r.Version).Updates(updates)
	if res.Error != nil {
		return fmt.Errorf("update request %s: %w", r.ID, res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("request %s changed meanwhile: %w", r.ID, models.ErrConflict)
	}
	r.Version, r.UpdatedAt = r.Version+1, now
	if to == "" {
		return nil
	}
	r.State = to
	_, err := audit.Append(tx, now, audit.Entry{
		Type: "request." + string(to), Actor: actor, RequestID: r.ID, Purpose: r.Purpose, Action: r.Action, PolicyRef: r.PolicyRef,
		Payload: map[string]any{"from": from, "to": to, "reason": reason, "content_hash": r.ContentHash, "version": r.Version},
	})
	return err
}
