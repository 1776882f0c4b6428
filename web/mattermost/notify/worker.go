package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/outbox"
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
	// Ping is one cheap call that succeeds when Mattermost answers and
	// accepts the bot: the probe while Mattermost is down.
	Ping(ctx context.Context) error
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
	// four hours before a message is marked failed. Attempts made while
	// Mattermost is down do not count (see breaker).
	DefaultMaxAttempts = 50
	// DefaultCallTimeout bounds the Mattermost calls of one message.
	DefaultCallTimeout = 30 * time.Second
	// DefaultConcurrency is how many messages are delivered at once. Rows
	// of one lane still go one after another; the pool lets different
	// requests' messages overlap their round trips to Mattermost.
	DefaultConcurrency = 16
	// DefaultProbeInterval is how often a Mattermost found down is asked
	// again, so delivery resumes about this long after it is back.
	DefaultProbeInterval = time.Second
)

// recordTimeout bounds writing a delivery's result, which is done even
// when the worker is stopping: a message already sent should be marked so.
const recordTimeout = 10 * time.Second

// WorkerConfig configures a Worker. Queue, Chat and Render are required.
type WorkerConfig struct {
	Queue *outbox.Queue
	Chat  Chat
	// Requests loads the request a row is about; nil means the queue's own
	// loader (outbox.Requests: the request and its decisions).
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
	Owner string
	// Poll is how often the queue is looked at when nothing is due.
	Poll  time.Duration
	Lease time.Duration
	// Batch bounds the rows taken by one claim (default: DefaultBatch or
	// Concurrency, whichever is larger).
	Batch       int
	BackoffBase time.Duration
	BackoffMax  time.Duration
	MaxAttempts int
	CallTimeout time.Duration
	// Concurrency bounds the deliveries in flight at once.
	Concurrency int
	// ProbeInterval is the wait between probes while Mattermost is down.
	ProbeInterval time.Duration
	Now           func() time.Time
	Logger        *slog.Logger
}

// Worker drains the outbox into Mattermost: up to Concurrency rows at once
// (never two of one lane, so each lane keeps its order), coalescing
// updates of a request's message, and holding everything while Mattermost
// is down (see breaker).
type Worker struct {
	cfg     WorkerConfig
	log     *slog.Logger
	breaker *breaker
	// wake cuts the wait for the next poll short (Wake).
	wake chan struct{}
}

// Wake tells a running worker that rows were just queued in this process,
// so it looks now instead of at its next poll (the WebSocket listener
// calls it after an edit queued the approvers' notes). Rows queued
// elsewhere are still found by the poll. It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// NewWorker returns a worker with defaults filled in.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	if cfg.Queue == nil || cfg.Chat == nil {
		return nil, errors.New("notify: worker needs a queue and a chat client")
	}
	if cfg.Requests == nil {
		cfg.Requests = cfg.Queue.Requests()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	def(&cfg.Poll, DefaultPoll)
	def(&cfg.Lease, DefaultLease)
	def(&cfg.BackoffBase, DefaultBackoffBase)
	def(&cfg.BackoffMax, DefaultBackoffMax)
	def(&cfg.CallTimeout, DefaultCallTimeout)
	def(&cfg.ProbeInterval, DefaultProbeInterval)
	defInt(&cfg.MaxAttempts, DefaultMaxAttempts)
	defInt(&cfg.Concurrency, DefaultConcurrency)
	defInt(&cfg.Batch, max(DefaultBatch, cfg.Concurrency))
	if cfg.Lease <= 2*cfg.CallTimeout+recordTimeout {
		return nil, fmt.Errorf("notify: the lease (%s) must outlast a delivery, a probe and recording its result (%s)", cfg.Lease, 2*cfg.CallTimeout+recordTimeout)
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
	w := &Worker{cfg: cfg, log: log}
	w.breaker = newBreaker(w.probe, cfg.ProbeInterval, cfg.Now)
	w.wake = make(chan struct{}, 1)
	return w, nil
}

// Run delivers until ctx ends, looking for new rows every Poll and, while
// Mattermost is down, probing it every ProbeInterval. Deliveries in flight
// when ctx ends are recorded before Run returns.
func (w *Worker) Run(ctx context.Context) {
	if _, err := w.pump(ctx, false); err != nil && ctx.Err() == nil {
		w.log.Error("outbox: worker stopped", slog.String("error", err.Error()))
	}
}

// Drain delivers until nothing is due, with the same parallelism as Run,
// and returns how many rows it handled. While Mattermost is down it
// probes once if a probe is due and returns when that probe fails.
func (w *Worker) Drain(ctx context.Context) (int, error) {
	return w.pump(ctx, true)
}

// pump keeps up to Concurrency deliveries in flight, and a few rows
// claimed ahead so that a finished delivery is replaced at once and
// claims are made in batches (a claim is a write transaction; one per
// finished delivery would make the claims the bottleneck). It claims when
// fewer than Concurrency/2 claimed rows wait and rows may be due: at the
// start, after a claim that got all it asked for, after deliveries finish
// (which may make the next row of their lane due), and on every tick. It
// claims nothing while the breaker is open, and gives back the rows it
// holds unstarted when the breaker opens or ctx ends. untilIdle returns
// once nothing is in flight and nothing more can be done now; otherwise
// it waits for the next tick.
func (w *Worker) pump(ctx context.Context, untilIdle bool) (handled int, err error) {
	conc := w.cfg.Concurrency
	finished := make(chan struct{}, conc)
	var ready []outbox.Message
	inFlight := 0
	rec := w.startRecorder()
	defer rec.stop() // runs last: after every delivery has handed in its result
	defer func() {
		w.release(ctx, ready)
		for ; inFlight > 0; inFlight-- {
			<-finished
			handled++
		}
	}()
	var tick <-chan time.Time
	if !untilIdle {
		t := time.NewTicker(min(w.cfg.Poll, w.cfg.ProbeInterval))
		defer t.Stop()
		tick = t.C
	}
	lowWater := max(1, conc/2)
	look := true
	for ctx.Err() == nil {
		open := w.breaker.isOpen()
		if open && w.breaker.retry(ctx) {
			open, look = false, true
		}
		if open {
			w.release(ctx, ready)
			ready = nil
		}
		var stale []outbox.Message
		for inFlight < conc && len(ready) > 0 {
			m := ready[0]
			ready = ready[1:]
			if !w.leaseLastsForDelivery(&m) {
				stale = append(stale, m)
				continue
			}
			inFlight++
			go func() {
				defer func() { finished <- struct{}{} }()
				w.handle(ctx, &m, rec)
			}()
		}
		w.release(ctx, stale)
		if limit := min(w.cfg.Batch, conc+w.cfg.Batch-inFlight-len(ready)); !open && look && len(ready) < lowWater && limit > 0 {
			rows, cerr := w.cfg.Queue.Claim(ctx, w.cfg.Owner, w.cfg.Now().UTC(), w.cfg.Lease, limit)
			if cerr != nil && untilIdle {
				return handled, cerr
			}
			if cerr != nil && ctx.Err() == nil {
				w.log.Error("outbox: claim", slog.String("error", cerr.Error()))
			}
			ready = append(ready, rows...)
			look = cerr == nil && len(rows) == limit
			if len(rows) > 0 {
				continue
			}
		}
		if inFlight == 0 && (!look || open) {
			if untilIdle {
				return handled, nil
			}
			w.idle(ctx, tick, open)
			look = true
			continue
		}
		if inFlight == 0 {
			continue
		}
		select {
		case <-finished:
			inFlight--
			handled++
			look = true
		case <-tick:
			look = true
		case <-w.wake:
			look = true
		case <-ctx.Done():
		}
	}
	if untilIdle {
		return handled, ctx.Err()
	}
	return handled, nil
}

// idle waits, with nothing in flight, for the next tick or, while the
// breaker is open, for its next probe to be due (the ticker alone would
// let a probe due just after a tick wait for the following one).
func (w *Worker) idle(ctx context.Context, tick <-chan time.Time, open bool) {
	var probe <-chan time.Time
	if open {
		t := time.NewTimer(w.breaker.untilDue())
		defer t.Stop()
		probe = t.C
	}
	var wake <-chan struct{}
	if !open {
		wake = w.wake // nothing can be sent while Mattermost is down
	}
	select {
	case <-tick:
	case <-probe:
	case <-wake:
	case <-ctx.Done():
	}
}

// leaseLastsForDelivery reports whether a row claimed ahead can still be
// delivered and recorded within its lease. One that waited too long (slow
// deliveries ahead of it) is given back rather than started: once its
// lease ran out, another worker could take it and send it as well.
func (w *Worker) leaseLastsForDelivery(m *outbox.Message) bool {
	need := 2*w.cfg.CallTimeout + recordTimeout // delivery, probe, record
	return w.cfg.Now().UTC().Add(need).UnixMicro() < m.LeaseUntilUS
}

// release gives back rows claimed but not started, with a context of its
// own: it runs when the worker stops too.
func (w *Worker) release(ctx context.Context, rows []outbox.Message) {
	if len(rows) == 0 {
		return
	}
	rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := w.cfg.Queue.Release(rec, rows, w.cfg.Owner, w.cfg.Now().UTC()); err != nil {
		w.log.Warn("outbox: give back claimed rows", slog.Int("rows", len(rows)), slog.String("error", err.Error()))
	}
}

// probe is the breaker's question to Mattermost.
func (w *Worker) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.CallTimeout)
	defer cancel()
	return w.cfg.Chat.Ping(ctx)
}
