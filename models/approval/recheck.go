package approval

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/contenthash"
)

// ChangeContentChanged: captured posts were found edited or deleted when
// the conversation was read again; the content hash changed and earlier
// approvals no longer count.
const ChangeContentChanged ChangeKind = "content_changed"

// Recheck is what reading a request's conversation again found. Version
// and ContentHash are the request as the caller compared it: when either
// moved meanwhile, ApplyRecheck refuses with models.ErrConflict and the
// caller reads again.
type Recheck struct {
	RequestID   string
	Version     int64
	ContentHash string
	// Changed are captured posts that were edited or deleted.
	Changed []models.PostChange
	// Later are posts written after the capture, kept apart from the
	// approved content.
	Later []models.ConversationPost
	// Actor is who caused the re-check (the deciding approver).
	Actor models.Actor
}

// RecheckOutcome is what ApplyRecheck did.
type RecheckOutcome struct {
	Request *models.Request
	// ContentChanged is true when the content hash moved from OldHash to
	// NewHash.
	ContentChanged   bool
	OldHash, NewHash string
	// LaterRecorded counts later-discussion posts stored or refreshed.
	LaterRecorded int
	// Voided are the approvals of the old content that stopped counting
	// when the content changed (one per approver, oldest first).
	Voided []models.Decision
}

// ApplyRecheck records what a re-read of the conversation found, in one
// transaction: for every edited or deleted captured post a revision (old
// and new text and hash) and the post as it reads now; the request's new
// content hash, compare-and-swapped on its version, with a
// "request.content_changed" audit event naming the old and new hash; and
// the later discussion (not hashed). Decisions bound to the old hash stop
// counting, because approvals are counted against the current hash. Only
// pending requests change: what was decided stays as it was decided.
func (s *Service) ApplyRecheck(ctx context.Context, rc Recheck) (*RecheckOutcome, error) {
	if rc.RequestID == "" || rc.ContentHash == "" {
		return nil, models.Invalid("recheck", "request id and content hash are required")
	}
	if err := rc.Actor.Validate("actor"); err != nil {
		return nil, err
	}
	for i, p := range rc.Later {
		if p.PostID == "" || p.AuthorID == "" || !p.AuthorKind.Valid() {
			return nil, models.Invalid(fmt.Sprintf("later[%d]", i), "needs a post id, an author id and an author kind")
		}
	}
	var out RecheckOutcome
	err := s.store.WithTx(ctx, func(tx *gorm.DB) error {
		out = RecheckOutcome{}
		r, err := loadLocked(tx, rc.RequestID)
		if err != nil {
			return err
		}
		if r.Version != rc.Version || r.ContentHash != rc.ContentHash {
			return fmt.Errorf("request %s changed since it was re-read: %w", r.ID, models.ErrConflict)
		}
		if r.State != models.StatePending {
			return fmt.Errorf("request %s is %s: %w", r.ID, r.State, ErrNotPending)
		}
		now := s.clock()
		n, err := s.recordLater(tx, r, rc.Later, now)
		if err != nil {
			return err
		}
		out.LaterRecorded = n
		if len(rc.Changed) > 0 {
			if err := s.changeContent(tx, r, rc, now, &out); err != nil {
				return err
			}
		}
		out.Request = r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("approval: recheck: %w", err)
	}
	return &out, nil
}

// changeContent applies edited and deleted posts and moves the hash.
func (s *Service) changeContent(tx *gorm.DB, r *models.Request, rc Recheck, now time.Time, out *RecheckOutcome) error {
	var posts []models.ConversationPost
	if err := tx.Where("request_id = ?", r.ID).Order("position").Find(&posts).Error; err != nil {
		return fmt.Errorf("load conversation: %w", err)
	}
	var calls []models.ToolCall
	if err := tx.Where("request_id = ?", r.ID).Order("position").Find(&calls).Error; err != nil {
		return fmt.Errorf("load tool chain: %w", err)
	}
	byID := make(map[string]models.PostChange, len(rc.Changed))
	for _, c := range rc.Changed {
		byID[c.PostID] = c
	}
	var revs []models.PostRevision
	var edited, deleted []string
	for i := range posts {
		p := &posts[i]
		c, ok := byID[p.PostID]
		if !ok || p.DeleteAt != 0 {
			continue
		}
		rev := models.PostRevision{RequestID: r.ID, PostID: p.PostID, OldMessage: p.Message, OldHash: p.Hash, DetectedAt: now}
		if c.Deleted {
			p.Message, p.DeleteAt = "", now.UnixMilli()
			rev.Deleted = true
			deleted = append(deleted, p.PostID)
		} else {
			if c.Message == p.Message && c.EditAt == p.EditAt && c.FromWebhook == p.FromWebhook && c.OverrideUsername == p.OverrideUsername {
				continue
			}
			p.Message, p.EditAt, p.FromWebhook, p.OverrideUsername = c.Message, c.EditAt, c.FromWebhook, c.OverrideUsername
			rev.NewMessage = c.Message
			edited = append(edited, p.PostID)
		}
		h, err := contenthash.PostHash(p)
		if err != nil {
			return err
		}
		p.Hash = h
		if !c.Deleted {
			rev.NewHash = h
		}
		res := tx.Model(&models.ConversationPost{}).Where("id = ?", p.ID).Updates(map[string]any{
			"message": p.Message, "edit_at": p.EditAt, "delete_at": p.DeleteAt,
			"from_webhook": p.FromWebhook, "override_username": p.OverrideUsername, "hash": p.Hash,
		})
		if res.Error != nil {
			return fmt.Errorf("update captured post %s: %w", p.PostID, res.Error)
		}
		revs = append(revs, rev)
	}
	if len(revs) == 0 {
		return nil
	}
	newHash, err := contenthash.Hash(contenthash.OfRequest(r, posts, calls))
	if err != nil {
		return err
	}
	oldHash := r.ContentHash
	voided, err := approvalsOf(tx, r.ID, oldHash)
	if err != nil {
		return err
	}
	for i := range revs {
		revs[i].OldContentHash, revs[i].NewContentHash = oldHash, newHash
	}
	if err := tx.Create(&revs).Error; err != nil {
		return fmt.Errorf("insert post revisions: %w", err)
	}
	res := tx.Model(&models.Request{}).Where("id = ? AND version = ? AND content_hash = ?", r.ID, r.Version, oldHash).
		Updates(map[string]any{"content_hash": newHash, "version": r.Version + 1, "updated_at": now})
	if res.Error != nil {
		return fmt.Errorf("update request %s: %w", r.ID, res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("request %s changed meanwhile: %w", r.ID, models.ErrConflict)
	}
	r.ContentHash, r.Version, r.UpdatedAt = newHash, r.Version+1, now
	if _, err := audit.Append(tx, now, audit.Entry{
		Type: "request.content_changed", Actor: rc.Actor, RequestID: r.ID, Purpose: r.Purpose,
		Action: r.Action, PolicyRef: r.PolicyRef,
		Payload: map[string]any{
			"old_content_hash": oldHash, "new_content_hash": newHash, "version": r.Version,
			"edited_posts": nonNil(edited), "deleted_posts": nonNil(deleted),
			"voided_approvals": voidedNames(voided),
		},
	}); err != nil {
		return err
	}
	out.ContentChanged, out.OldHash, out.NewHash, out.Voided = true, oldHash, newHash, voided
	return s.runHooks(tx, Change{Kind: ChangeContentChanged, Request: r, From: r.State, To: r.State, Actor: rc.Actor,
		Reason: "conversation edited after capture", At: now, Voided: voided})
}

// approvalsOf returns the approvals of request id made on content hash,
// the first of each approver, oldest first: the approvals a change of
// that content voids.
func approvalsOf(tx *gorm.DB, id, hash string) ([]models.Decision, error) {
	var all []models.Decision
	err := tx.Where("request_id = ? AND verdict = ? AND content_hash = ?", id, models.VerdictApprove, hash).Order("id").Find(&all).Error
	if err != nil {
		return nil, fmt.Errorf("load approvals of %s: %w", id, err)
	}
	seen := map[string]bool{}
	out := make([]models.Decision, 0, len(all))
	for _, d := range all {
		if !seen[d.ApproverID] {
			seen[d.ApproverID] = true
			out = append(out, d)
		}
	}
	return out, nil
}

// voidedNames lists voided approvers for the audit event: their subject
// and the name they were shown by.
func voidedNames(ds []models.Decision) []map[string]string {
	out := make([]map[string]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, map[string]string{"approver_id": d.ApproverID, "approver_name": d.ApproverName})
	}
	return out
}

// recordLater stores or refreshes the later-discussion posts and audits
// the ones seen for the first time.
func (s *Service) recordLater(tx *gorm.DB, r *models.Request, later []models.ConversationPost, now time.Time) (int, error) {
	if len(later) == 0 {
		return 0, nil
	}
	var known []string
	if err := tx.Model(&models.LaterPost{}).Where("request_id = ?", r.ID).Pluck("post_id", &known).Error; err != nil {
		return 0, fmt.Errorf("load later discussion: %w", err)
	}
	seen := make(map[string]bool, len(known))
	for _, id := range known {
		seen[id] = true
	}
	rows := make([]models.LaterPost, 0, len(later))
	var fresh []string
	for _, p := range later {
		h, err := contenthash.PostHash(&p)
		if err != nil {
			return 0, err
		}
		snap := p.PostSnapshot
		snap.Hash = h
		rows = append(rows, models.LaterPost{RequestID: r.ID, PostSnapshot: snap, RecordedAt: now})
		if !seen[p.PostID] {
			fresh = append(fresh, p.PostID)
		}
	}
	err := tx.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "request_id"}, {Name: "post_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"message", "edit_at", "from_webhook", "override_username", "hash"}),
	}).CreateInBatches(rows, 200).Error
	if err != nil {
		return 0, fmt.Errorf("store later discussion: %w", err)
	}
	if len(fresh) > 0 {
		if _, err := audit.Append(tx, now, audit.Entry{
			Type: "request.later_discussion", Actor: models.SystemActor("conversation re-check"), RequestID: r.ID, Purpose: r.Purpose,
			Action: r.Action, PolicyRef: r.PolicyRef,
			Payload: map[string]any{"posts": fresh, "content_hash": r.ContentHash},
		}); err != nil {
			return 0, err
		}
	}
	return len(rows), nil
}

// LaterDiscussion returns the posts written after request id's capture,
// oldest first.
func (s *Service) LaterDiscussion(ctx context.Context, id string) ([]models.LaterPost, error) {
	var out []models.LaterPost
	if err := s.store.DB(ctx).Where("request_id = ?", id).Order("create_at, post_id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("approval: later discussion of %s: %w", id, err)
	}
	return out, nil
}

// Revisions returns the edits and deletions found in request id's
// conversation, oldest first.
func (s *Service) Revisions(ctx context.Context, id string) ([]models.PostRevision, error) {
	var out []models.PostRevision
	if err := s.store.DB(ctx).Where("request_id = ?", id).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("approval: revisions of %s: %w", id, err)
	}
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
