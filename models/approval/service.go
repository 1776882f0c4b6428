// Package approval is the service that opens requests and moves them
// through their lifecycle. Every change is written together with its audit
// event in one transaction: if the audit append fails, nothing changes.
package approval

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/contenthash"
	"github.com/countersign/countersign/models/lifecycle"
)

// Service opens requests, records decisions and moves requests through
// their lifecycle.
type Service struct {
	store *models.Store
	now   func() time.Time
	cfg   Config
	// effects are cfg.Effects in their order.
	effects []Hook
	// quiet marks every request this service creates ChatQuiet.
	quiet bool
}

// New returns a Service on store with the given rules.
func New(store *models.Store, cfg Config) *Service {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now, cfg: cfg, effects: cfg.Effects.ordered()}
}

// RecordsIdempotency reports whether s records the idempotency key a
// request is created under (Effects.Idempotency is set), which callers
// that rely on one creation per key need.
func (s *Service) RecordsIdempotency() bool { return s.cfg.Effects.Idempotency != nil }

// Unannounced returns a service like s whose requests are created
// ChatQuiet: nothing that happens to them is ever said in chat. For the
// demo's seeded requests, which name people and channels that may exist
// on a real Mattermost the demo is connected to.
func (s *Service) Unannounced() *Service {
	c := *s
	c.quiet = true
	return &c
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Create validates in, stores the request with its conversation and tool
// chain, computes its content hash and records "request.created", all in one
// transaction. It applies no policy: in.RequiredApprovals and in.TTL are
// taken as given (see Submit for requests that policy decides).
func (s *Service) Create(ctx context.Context, in NewRequest) (*models.Request, error) {
	now := s.clock()
	req, posts, calls, err := prepare(in, now)
	if err != nil {
		return nil, err
	}
	err = s.store.WithTx(ctx, func(tx *gorm.DB) error {
		return s.insert(tx, req, posts, calls, in.Requester, now)
	})
	if err != nil {
		return nil, fmt.Errorf("approval: create request: %w", err)
	}
	req.Posts, req.ToolCalls = posts, calls
	return req, nil
}

// prepare validates in and builds the request row, its conversation and
// tool chain, with the content hash, ready for insert.
func prepare(in NewRequest, now time.Time) (*models.Request, []models.ConversationPost, []models.ToolCall, error) {
	params, err := in.validate()
	if err != nil {
		return nil, nil, nil, err
	}
	req := &models.Request{
		ID: models.NewRequestID(), Kind: in.Kind, Action: in.Action, Params: params, Purpose: in.Purpose,
		RequesterType: in.Requester.Type, RequesterID: in.Requester.ID, RequesterName: in.Requester.Display,
		SponsorID: in.Requester.SponsorID, SponsorName: in.Requester.SponsorName,
		TeamID: in.Source.TeamID, TeamName: in.Source.TeamName, ChannelID: in.Source.ChannelID,
		ChannelName: in.Source.ChannelName, RootPostID: in.Source.RootPostID, TriggerPostID: in.Source.TriggerPostID,
		State: models.StatePending, Version: 1, PolicyRef: in.PolicyRef, RequiredApprovals: in.RequiredApprovals,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(in.TTL), CaptureWarnings: in.CaptureWarnings,
	}
	posts := make([]models.ConversationPost, len(in.Posts))
	for i, p := range in.Posts {
		p.ID, p.RequestID, p.Position = 0, req.ID, i
		if p.Hash, err = contenthash.PostHash(&p); err != nil {
			return nil, nil, nil, err
		}
		posts[i] = p
	}
	calls := make([]models.ToolCall, len(in.ToolCalls))
	for i, c := range in.ToolCalls {
		c.ID, c.RequestID, c.Position = 0, req.ID, i
		c.StartedAt, c.EndedAt = c.StartedAt.UTC().Truncate(time.Microsecond), c.EndedAt.UTC().Truncate(time.Microsecond)
		calls[i] = c
	}
	if req.ContentHash, err = contenthash.Hash(contenthash.OfRequest(req, posts, calls)); err != nil {
		return nil, nil, nil, err
	}
	return req, posts, calls, nil
}

// insert writes a prepared request with its audit event and runs the hooks,
// inside tx.
func (s *Service) insert(tx *gorm.DB, req *models.Request, posts []models.ConversationPost, calls []models.ToolCall, requester models.Actor, now time.Time) error {
	req.ChatQuiet = req.ChatQuiet || s.quiet
	if err := tx.Omit("Posts", "ToolCalls", "Decisions").Create(req).Error; err != nil {
		return fmt.Errorf("insert request: %w", err)
	}
	if err := insertRoles(tx, req); err != nil {
		return err
	}
	if len(posts) > 0 {
		if err := tx.CreateInBatches(posts, 200).Error; err != nil {
			return fmt.Errorf("insert conversation: %w", err)
		}
	}
	if len(calls) > 0 {
		if err := tx.CreateInBatches(calls, 200).Error; err != nil {
			return fmt.Errorf("insert tool chain: %w", err)
		}
	}
	payload := map[string]any{
		"kind": req.Kind, "params": jsonRaw(req.Params), "content_hash": req.ContentHash,
		"sponsor_id": req.SponsorID, "team_id": req.TeamID, "channel_id": req.ChannelID,
		"root_post_id": req.RootPostID, "trigger_post_id": req.TriggerPostID,
		"posts": len(posts), "tool_calls": len(calls),
		"required_approvals": req.RequiredApprovals, "expires_at": contenthash.TimeString(req.ExpiresAt),
	}
	if pp := policyPayload(req); pp != nil {
		payload["policy"] = pp
	}
	_, err := audit.Append(tx, now, audit.Entry{
		Type: "request.created", Actor: requester, RequestID: req.ID, Purpose: req.Purpose,
		Action: req.Action, PolicyRef: req.PolicyRef, Payload: payload,
	})
	if err != nil {
		return err
	}
	return s.runHooks(tx, Change{Kind: ChangeCreated, Request: req, From: "", To: req.State, Actor: requester, At: now})
}

// Transition asks to move request ID from state From to state To. From is
// what the caller believes the current state is: when another writer got
// there first the call fails with models.ErrConflict and changes nothing.
type Transition struct {
	ID     string
	From   models.State
	To     models.State
	Actor  models.Actor
	Reason string
}

// Move performs t: the state machine must allow it, the stored state must
// still be t.From, and the update (compare-and-swap on version) and its audit
// event commit together.
func (s *Service) Move(ctx context.Context, t Transition) (*models.Request, error) {
	if err := lifecycle.Check(t.From, t.To); err != nil {
		return nil, err
	}
	if err := t.Actor.Validate("actor"); err != nil {
		return nil, err
	}
	var out models.Request
	err := s.store.WithTx(ctx, func(tx *gorm.DB) error {
		if err := tx.Omit("Posts", "ToolCalls", "Decisions").First(&out, "id = ?", t.ID).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return fmt.Errorf("request %s: %w", t.ID, models.ErrNotFound)
			}
			return fmt.Errorf("load request %s: %w", t.ID, err)
		}
		if out.State != t.From {
			return fmt.Errorf("request %s is %s, not %s: %w", t.ID, out.State, t.From, models.ErrConflict)
		}
		now := s.clock()
		res := tx.Model(&models.Request{}).
			Where("id = ? AND state = ? AND version = ?", t.ID, t.From, out.Version).
			Updates(map[string]any{"state": t.To, "version": out.Version + 1, "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("update request %s: %w", t.ID, res.Error)
		}
		if res.RowsAffected != 1 {
			return fmt.Errorf("request %s changed meanwhile: %w", t.ID, models.ErrConflict)
		}
		out.State, out.Version, out.UpdatedAt = t.To, out.Version+1, now
		_, err := audit.Append(tx, now, audit.Entry{
			Type: "request." + string(t.To), Actor: t.Actor, RequestID: out.ID, Purpose: out.Purpose,
			Action: out.Action, PolicyRef: out.PolicyRef,
			Payload: map[string]any{"from": t.From, "to": t.To, "reason": t.Reason, "content_hash": out.ContentHash, "version": out.Version},
		})
		if err != nil {
			return err
		}
		return s.runHooks(tx, Change{Kind: ChangeMoved, Request: &out, From: t.From, To: t.To, Actor: t.Actor, Reason: t.Reason, At: now})
	})
	if err != nil {
		return nil, fmt.Errorf("approval: %w", err)
	}
	return &out, nil
}

// Get loads a request with its conversation, tool chain and decisions in
// order.
func (s *Service) Get(ctx context.Context, id string) (*models.Request, error) {
	var r models.Request
	err := s.store.DB(ctx).
		Preload("Posts", func(db *gorm.DB) *gorm.DB { return db.Order("position") }).
		Preload("ToolCalls", func(db *gorm.DB) *gorm.DB { return db.Order("position") }).
		Preload("Decisions", func(db *gorm.DB) *gorm.DB { return db.Order("id") }).
		First(&r, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("approval: request %s: %w", id, models.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("approval: load request %s: %w", id, err)
	}
	return &r, nil
}

// VerifyContent recomputes the content hash of a stored request and reports
// whether it still matches the hash decisions were bound to.
func VerifyContent(r *models.Request) (string, bool, error) {
	h, err := contenthash.Hash(contenthash.OfRequest(r, r.Posts, r.ToolCalls))
	if err != nil {
		return "", false, err
	}
	return h, h == r.ContentHash, nil
}

type jsonRaw string

// MarshalJSON embeds already-canonical JSON text as a value.
func (j jsonRaw) MarshalJSON() ([]byte, error) { return []byte(j), nil }
