package mattermost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
)

// RecheckStore is what re-checking needs from the approval service;
// *approval.Service implements it.
type RecheckStore interface {
	Get(ctx context.Context, id string) (*models.Request, error)
	ApplyRecheck(ctx context.Context, rc approval.Recheck) (*approval.RecheckOutcome, error)
}

// RecheckResult says what re-reading a request's conversation found.
type RecheckResult struct {
	// Checked is true when the conversation was read again.
	Checked bool
	// Unavailable is true when Mattermost could not be read: the decision
	// goes ahead on the conversation as captured (chat outages never block
	// decisions), and the person is told so.
	Unavailable bool
	// ContentChanged is true when captured posts were edited or deleted:
	// the request's content hash moved and earlier approvals stopped
	// counting.
	ContentChanged bool
	// Later counts posts written after the capture (later discussion).
	Later int
}

// DefaultRecheckTimeout bounds one re-check, so a slow Mattermost delays
// a decision by at most this much.
const DefaultRecheckTimeout = 5 * time.Second

// Rechecker reads a pending request's conversation again when someone
// decides, through the bot, outside any transaction, and records what
// changed (see approval.Service.ApplyRecheck).
type Rechecker struct {
	client  *Client
	store   RecheckStore
	timeout time.Duration
	log     *slog.Logger
}

// NewRechecker returns a Rechecker; timeout 0 means DefaultRecheckTimeout.
func NewRechecker(client *Client, store RecheckStore, timeout time.Duration) *Rechecker {
	if timeout <= 0 {
		timeout = DefaultRecheckTimeout
	}
	return &Rechecker{client: client, store: store, timeout: timeout, log: client.log}
}

// Recheck re-reads request id's conversation on behalf of actor. Errors
// are only the database's; Mattermost's failures become Unavailable.
func (rc *Rechecker) Recheck(ctx context.Context, id string, actor models.Actor) (RecheckResult, error) {
	ctx, cancel := context.WithTimeout(ctx, rc.timeout)
	defer cancel()
	for try := 0; ; try++ {
		r, err := rc.store.Get(ctx, id)
		if err != nil {
			return RecheckResult{}, err
		}
		if r.State != models.StatePending || (r.RootPostID == "" && r.ChannelID == "") {
			return RecheckResult{}, nil
		}
		diff, err := rc.read(ctx, r)
		if err != nil {
			rc.log.Warn("mattermost: conversation re-check unavailable; deciding on the capture", slog.String("request", id), slog.String("error", err.Error()))
			return RecheckResult{Unavailable: true}, nil
		}
		res := RecheckResult{Checked: true, Later: len(diff.Added)}
		in := approval.Recheck{RequestID: r.ID, Version: r.Version, ContentHash: r.ContentHash, Later: diff.Added, Actor: actor}
		for _, p := range diff.Posts {
			switch p.Change {
			case Deleted:
				in.Changed = append(in.Changed, approval.PostChange{PostID: p.PostID, Deleted: true})
			case Edited:
				in.Changed = append(in.Changed, approval.PostChange{
					PostID: p.PostID, Message: p.Current.Message, EditAt: p.Current.EditAt,
					FromWebhook: p.Current.FromWebhook, OverrideUsername: p.Current.OverrideUsername,
				})
			}
		}
		if len(in.Changed) == 0 && len(in.Later) == 0 {
			return res, nil
		}
		out, err := rc.store.ApplyRecheck(ctx, in)
		switch {
		case err == nil:
			res.ContentChanged = out.ContentChanged
			return res, nil
		case errors.Is(err, approval.ErrNotPending):
			return RecheckResult{}, nil
		case errors.Is(err, models.ErrConflict) && try < 3:
			continue // a decision landed meanwhile: compare again
		default:
			return res, fmt.Errorf("mattermost: apply re-check of %s: %w", id, err)
		}
	}
}

// read recaptures the live captured posts (those not already known to be
// deleted), leaving Countersign's own posts out.
func (rc *Rechecker) read(ctx context.Context, r *models.Request) (*Diff, error) {
	me, err := rc.client.BotUserID(ctx)
	if err != nil {
		return nil, err
	}
	live := make([]models.ConversationPost, 0, len(r.Posts))
	for _, p := range r.Posts {
		if p.DeleteAt == 0 {
			live = append(live, p)
		}
	}
	return rc.client.Recapture(ctx, live, RecaptureRequest{RootPostID: r.RootPostID, ChannelID: r.ChannelID, ExcludeUserIDs: []string{me}})
}
