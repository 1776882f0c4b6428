package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/outbox"
	"github.com/countersign/countersign/web/mattermost"
)

// Chat is what the worker needs from Mattermost; *mattermost.Client
// implements it.
type Chat interface {
	BotUserID(ctx context.Context) (string, error)
	CreatePost(ctx context.Context, post *model.Post) (*model.Post, error)
	UpdatePost(ctx context.Context, postID, message string, props model.StringInterface) (*model.Post, error)
	GetPost(ctx context.Context, postID string) (*model.Post, error)
	DirectChannel(ctx context.Context, userID string) (string, error)
	UserIDByUsername(ctx context.Context, username string) (string, error)
	FindKeyedPost(ctx context.Context, channelID, rootID string, sinceMS int64, propKey, key string) (*model.Post, error)
}

// Requests loads a request with its decisions; *approval.Service
// implements it.
type Requests interface {
	Get(ctx context.Context, id string) (*models.Request, error)
}

// Defaults of the worker.
const (
	DefaultPoll        = time.Second
	DefaultLease       = 2 * time.Minute
	DefaultBatch       = 32
	DefaultBackoffBase = 2 * time.Second
	DefaultBackoffMax  = 5 * time.Minute
	// DefaultMaxAttempts with the default backoff keeps trying for about
	// four hours before a message is marked failed.
	DefaultMaxAttempts = 50
	// DefaultCallTimeout bounds the Mattermost calls of one message.
	DefaultCallTimeout = 30 * time.Second
)

// WorkerConfig configures a Worker. Queue, Chat, Requests and Render are
// required.
type WorkerConfig struct {
	Queue    *outbox.Queue
	Chat     Chat
	Requests Requests
	Render   Renderer
	// Directory gives the approvers to DM; nil DMs nobody.
	Directory ApproverDirectory
	// Signer signs the cancel button; nil posts no button.
	Signer *Signer
	// ActionURL is where Mattermost sends button clicks
	// ({PublicURL}/hooks/mattermost/action).
	ActionURL string
	// Owner names this worker in leases; unique per process (default: a
	// random id).
	Owner       string
	Poll        time.Duration
	Lease       time.Duration
	Batch       int
	BackoffBase time.Duration
	BackoffMax  time.Duration
	MaxAttempts int
	CallTimeout time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
}

// Worker drains the outbox into Mattermost.
type Worker struct {
	cfg WorkerConfig
	log *slog.Logger
}

// NewWorker returns a worker with defaults filled in.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	if cfg.Queue == nil || cfg.Chat == nil || cfg.Requests == nil {
		return nil, errors.New("notify: worker needs a queue, a chat client and the requests")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Poll, DefaultPoll)
	def(&cfg.Lease, DefaultLease)
	def(&cfg.BackoffBase, DefaultBackoffBase)
	def(&cfg.BackoffMax, DefaultBackoffMax)
	def(&cfg.CallTimeout, DefaultCallTimeout)
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Owner == "" {
		cfg.Owner = "worker-" + model.NewId()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{cfg: cfg, log: log}, nil
}

// Run drains the outbox every Poll until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	for {
		if _, err := w.Drain(ctx); err != nil && ctx.Err() == nil {
			w.log.Error("outbox: drain", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Drain handles due rows until none is due (each round takes at most one
// row per lane, so a lane's rows go out in order) and returns how many it
// handled.
func (w *Worker) Drain(ctx context.Context) (int, error) {
	total := 0
	for ctx.Err() == nil {
		n, err := w.DrainOnce(ctx)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
	return total, ctx.Err()
}

// DrainOnce claims one batch of due rows and handles them.
func (w *Worker) DrainOnce(ctx context.Context) (int, error) {
	now := w.cfg.Now().UTC()
	rows, err := w.cfg.Queue.Claim(ctx, w.cfg.Owner, now, w.cfg.Lease, w.cfg.Batch)
	if err != nil {
		return 0, err
	}
	for i := range rows {
		w.handle(ctx, &rows[i])
	}
	return len(rows), nil
}

// handle delivers one row and records the result.
func (w *Worker) handle(ctx context.Context, m *outbox.Message) {
	callCtx, cancel := context.WithTimeout(ctx, w.cfg.CallTimeout)
	postID, children, err := w.deliver(callCtx, m)
	cancel()
	now := w.cfg.Now().UTC()
	attrs := []any{slog.Int64("row", m.ID), slog.String("request", m.RequestID), slog.String("kind", string(m.Kind)), slog.Int("attempt", m.Attempts)}
	var ferr error
	switch {
	case err == nil && m.Kind.Expands():
		ferr = w.cfg.Queue.Expand(ctx, m, w.cfg.Owner, children, now)
	case err == nil:
		ferr = w.cfg.Queue.Done(ctx, m, w.cfg.Owner, postID, now)
	case permanent(err):
		w.log.Warn("outbox: message failed for good", append(attrs, slog.String("error", err.Error()))...)
		ferr = w.cfg.Queue.Fail(ctx, m, w.cfg.Owner, err.Error(), now)
	case m.Attempts >= w.cfg.MaxAttempts:
		w.log.Warn("outbox: message gave up", append(attrs, slog.String("error", err.Error()))...)
		ferr = w.cfg.Queue.Fail(ctx, m, w.cfg.Owner, fmt.Sprintf("gave up after %d attempts: %v", m.Attempts, err), now)
	default:
		next := now.Add(w.backoff(m.Attempts))
		w.log.Info("outbox: will retry", append(attrs, slog.Time("next", next), slog.String("error", err.Error()))...)
		ferr = w.cfg.Queue.Retry(ctx, m, w.cfg.Owner, next, err.Error(), now)
	}
	if ferr != nil {
		// A lost lease means another worker took the row: its result
		// stands, and delivery is idempotent.
		w.log.Warn("outbox: record result", append(attrs, slog.String("error", ferr.Error()))...)
	}
}

// backoff is exponential with equal jitter, capped at BackoffMax.
func (w *Worker) backoff(attempt int) time.Duration {
	d := w.cfg.BackoffBase << min(attempt-1, 30)
	if d <= 0 || d > w.cfg.BackoffMax {
		d = w.cfg.BackoffMax
	}
	half := d / 2
	return half + rand.N(half+1)
}

// permanent says whether retrying cannot help: Mattermost refused the
// message itself (a 4xx other than 401 and 429), or the request is gone.
func permanent(err error) bool {
	var me *mattermost.Error
	if errors.As(err, &me) {
		return me.Status >= 400 && me.Status < 500 && me.Status != http.StatusTooManyRequests && me.Status != http.StatusUnauthorized
	}
	return errors.Is(err, errPermanent)
}

// errPermanent marks failures of the row itself (request gone, nowhere to
// post).
var errPermanent = errors.New("cannot be delivered")

// deliver performs one row. It returns the post created, if any, and for
// the kinds that expand (outbox.Kind.Expands) the rows to queue instead.
func (w *Worker) deliver(ctx context.Context, m *outbox.Message) (string, []outbox.Message, error) {
	r, err := w.cfg.Requests.Get(ctx, m.RequestID)
	if errors.Is(err, models.ErrNotFound) {
		return "", nil, fmt.Errorf("request %s: %w", m.RequestID, errPermanent)
	}
	if err != nil {
		return "", nil, err
	}
	switch m.Kind {
	case outbox.KindRequestPost:
		id, err := w.syncRequestPost(ctx, m, r)
		return id, nil, err
	case outbox.KindDecisionReply:
		id, err := w.decisionReply(ctx, m, r)
		return id, nil, err
	case outbox.KindNotifyApprovers:
		children, err := w.expandApprovers(ctx, r)
		return "", children, err
	case outbox.KindApproverDM:
		if r.State != models.StatePending {
			return "", nil, nil // decided already: nothing to ask for
		}
		uid, err := w.cfg.Chat.UserIDByUsername(ctx, m.Recipient)
		if err != nil {
			return "", nil, err
		}
		if r.MadeBy(uid, "") || r.SponsoredBy(uid, "") {
			return "", nil, nil // never ask requesters to approve themselves
		}
		id, err := w.directMessage(ctx, m, uid, w.cfg.Render.ApproverDM(r))
		return id, nil, err
	case outbox.KindRemindApprovers, outbox.KindEscalate, outbox.KindReminderDM, outbox.KindEscalationDM, outbox.KindThreadNote:
		return w.deliverFollowUp(ctx, m, r)
	case outbox.KindOutcomeDM:
		p, err := m.DecodePayload()
		if err != nil {
			return "", nil, fmt.Errorf("%v: %w", err, errPermanent)
		}
		id, err := w.directMessage(ctx, m, m.Recipient, w.cfg.Render.OutcomeDM(r, p))
		return id, nil, err
	}
	return "", nil, fmt.Errorf("unknown outbox kind %q: %w", m.Kind, errPermanent)
}

// place finds where the request message goes: the request's thread (its
// root, or the root of the post that triggered it) or else its channel.
func (w *Worker) place(ctx context.Context, r *models.Request) (channelID, rootID string, err error) {
	channelID, rootID = r.ChannelID, r.RootPostID
	if rootID == "" && r.TriggerPostID != "" {
		p, err := w.cfg.Chat.GetPost(ctx, r.TriggerPostID)
		switch {
		case err == nil:
			rootID, channelID = p.Id, p.ChannelId
			if p.RootId != "" {
				rootID = p.RootId
			}
		case errors.Is(err, models.ErrNotFound), errors.Is(err, models.ErrInvalid):
			// The trigger is gone: post in the channel.
		default:
			return "", "", err
		}
	}
	if channelID == "" {
		return "", "", fmt.Errorf("request %s names no channel: %w", r.ID, errPermanent)
	}
	return channelID, rootID, nil
}

// syncRequestPost makes the request's one message show its current state:
// created when missing (found again instead when an earlier attempt may
// have created it), then updated in place with the current text and props.
func (w *Worker) syncRequestPost(ctx context.Context, m *outbox.Message, r *models.Request) (string, error) {
	now := w.cfg.Now().UTC()
	cp, err := w.cfg.Queue.EnsureChatPost(ctx, r.ID, now)
	if err != nil {
		return "", err
	}
	text := w.cfg.Render.RequestText(r)
	if cp.PostID == "" {
		channelID, rootID, err := w.place(ctx, r)
		if err != nil {
			return "", err
		}
		props := model.StringInterface{outbox.PropKey: cp.IdemKey, outbox.PropRequest: r.ID}
		post, err := w.createOnce(ctx, m, &model.Post{ChannelId: channelID, RootId: rootID, Message: text, PendingPostId: cp.IdemKey, Props: props}, cp.IdemKey, cp.CreatedAt)
		if err != nil {
			return "", err
		}
		if cp, err = w.cfg.Queue.SetChatPost(ctx, r.ID, post.Id, post.ChannelId, post.RootId, now); err != nil {
			return "", err
		}
	}
	if _, err := w.cfg.Chat.UpdatePost(ctx, cp.PostID, text, RequestProps(r, cp, w.cfg.Signer, w.cfg.ActionURL)); err != nil {
		return "", err
	}
	return cp.PostID, nil
}

// createOnce creates post unless an earlier attempt of m already did: on
// a retry it first looks for a post carrying the idempotency key, because
// the answer to that attempt may have been lost after Mattermost stored
// the post (and its pending_post_id memory is short).
func (w *Worker) createOnce(ctx context.Context, m *outbox.Message, post *model.Post, key string, since time.Time) (*model.Post, error) {
	if m.Attempts > 1 {
		found, err := w.cfg.Chat.FindKeyedPost(ctx, post.ChannelId, post.RootId, since.Add(-time.Minute).UnixMilli(), outbox.PropKey, key)
		if err != nil {
			return nil, err
		}
		if found != nil {
			return found, nil
		}
	}
	return w.cfg.Chat.CreatePost(ctx, post)
}

// decisionReply replies in the request's thread with one decision.
func (w *Worker) decisionReply(ctx context.Context, m *outbox.Message, r *models.Request) (string, error) {
	p, err := m.DecodePayload()
	if err != nil {
		return "", fmt.Errorf("%v: %w", err, errPermanent)
	}
	var d *models.Decision
	for i := range r.Decisions {
		if r.Decisions[i].ID == p.DecisionID {
			d = &r.Decisions[i]
		}
	}
	if d == nil {
		return "", fmt.Errorf("decision %d of %s: %w", p.DecisionID, r.ID, errPermanent)
	}
	return w.threadReply(ctx, m, r, w.cfg.Render.DecisionReply(r, d))
}

// threadReply replies in the request's thread (under the request message
// when it is top-level) with text, once.
func (w *Worker) threadReply(ctx context.Context, m *outbox.Message, r *models.Request, text string) (string, error) {
	cp, err := w.cfg.Queue.EnsureChatPost(ctx, r.ID, w.cfg.Now().UTC())
	if err != nil {
		return "", err
	}
	channelID, rootID := cp.ChannelID, cp.RootID
	switch {
	case cp.PostID != "" && rootID == "":
		rootID = cp.PostID // the request message is top-level: reply under it
	case cp.PostID == "":
		if channelID, rootID, err = w.place(ctx, r); err != nil {
			return "", err
		}
	}
	post := &model.Post{
		ChannelId: channelID, RootId: rootID, Message: text, PendingPostId: m.IdemKey,
		Props: model.StringInterface{outbox.PropKey: m.IdemKey, outbox.PropRequest: r.ID},
	}
	created, err := w.createOnce(ctx, m, post, m.IdemKey, m.CreatedAt)
	if err != nil {
		return "", err
	}
	return created.Id, nil
}

// expandApprovers turns "tell the approvers" into one DM row per eligible
// approver, each in its own lane.
func (w *Worker) expandApprovers(ctx context.Context, r *models.Request) ([]outbox.Message, error) {
	if w.cfg.Directory == nil || r.State != models.StatePending {
		return nil, nil
	}
	names, err := w.cfg.Directory.ApproverUsernames(ctx, r)
	if err != nil {
		return nil, err
	}
	var out []outbox.Message
	for _, n := range eligible(r, names) {
		out = append(out, outbox.Message{Lane: r.ID + "/dm/" + strings.ToLower(n), Kind: outbox.KindApproverDM, Recipient: n})
	}
	return out, nil
}

// directMessage sends text to userID in the bot's DM channel, once.
func (w *Worker) directMessage(ctx context.Context, m *outbox.Message, userID, text string) (string, error) {
	channelID, err := w.cfg.Chat.DirectChannel(ctx, userID)
	if err != nil {
		return "", err
	}
	post := &model.Post{
		ChannelId: channelID, Message: text, PendingPostId: m.IdemKey,
		Props: model.StringInterface{outbox.PropKey: m.IdemKey, outbox.PropRequest: m.RequestID},
	}
	created, err := w.createOnce(ctx, m, post, m.IdemKey, m.CreatedAt)
	if err != nil {
		return "", err
	}
	return created.Id, nil
}
