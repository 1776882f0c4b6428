package listen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/web/mattermost"
)

// Commands runs a command typed as a mention (handlers.ChatCommands).
type Commands interface {
	Run(ctx context.Context, call mattermost.CommandCall) mattermost.CommandReply
}

// Rechecker re-reads the pending requests that captured a post
// (approval.Service).
type Rechecker interface {
	RecheckPost(ctx context.Context, postID string) (*approval.PostRecheck, error)
}

// Claims decides which replica answers a mention (mention.Claims).
type Claims interface {
	Claim(ctx context.Context, postID, owner string, lease time.Duration) (bool, error)
	Finish(ctx context.Context, postID, owner, requestID string) error
}

// Defaults.
const (
	// DefaultCatchUp is how far back the first connection after a start
	// reads the bot's channels for mentions and edits it missed.
	DefaultCatchUp = 10 * time.Minute
	// DefaultLease is how long a replica holds a mention before another
	// may answer it instead.
	DefaultLease = 2 * time.Minute
	// DefaultWorkers bounds the events handled at once.
	DefaultWorkers = 8
)

// Config is what a Listener is built from.
type Config struct {
	// Client is the bot. Required.
	Client *mattermost.Client
	// Commands answers mentions; nil ignores them.
	Commands Commands
	// Claims is required with Commands.
	Claims Claims
	// Rechecks acts on edits and deletions; nil ignores them.
	Rechecks Rechecker
	// CatchUp bounds how far back a (re)connect reads missed posts.
	CatchUp time.Duration
	// Lease is how long a mention is held (DefaultLease).
	Lease time.Duration
	// Workers bounds concurrent handling (DefaultWorkers).
	Workers int
	// Logger receives connection changes and failures.
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Queued is called after handling an event may have queued chat work
	// (a request made, approvers to tell), so this process's outbox worker
	// sends it now instead of at its next poll (notify.Worker.Wake); nil:
	// the poll finds it.
	Queued func()
}

// Listener keeps the bot's WebSocket open and handles its events.
type Listener struct {
	cfg   Config
	owner string
	sem   chan struct{}
	wg    sync.WaitGroup

	connected atomic.Bool
	// seen is the last moment (Unix ms) the listener knew it was
	// connected: a catch-up after a reconnect starts there.
	seen atomic.Int64

	botMu   sync.Mutex
	botID   string
	botName string
}

// New returns a Listener.
func New(cfg Config) (*Listener, error) {
	if cfg.Client == nil {
		return nil, errors.New("listen: a Mattermost client is required")
	}
	if cfg.Commands != nil && cfg.Claims == nil {
		return nil, errors.New("listen: mentions need claims")
	}
	if cfg.CatchUp <= 0 {
		cfg.CatchUp = DefaultCatchUp
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Queued == nil {
		cfg.Queued = func() {}
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	return &Listener{cfg: cfg, owner: "listener-" + hex.EncodeToString(b[:]), sem: make(chan struct{}, cfg.Workers)}, nil
}

// Connected reports whether the WebSocket is open now.
func (l *Listener) Connected() bool { return l.connected.Load() }

// Run keeps the WebSocket open until ctx ends, reconnecting with backoff,
// and waits for the events in hand to finish.
func (l *Listener) Run(ctx context.Context) {
	defer l.wg.Wait()
	since := l.cfg.Now().Add(-l.cfg.CatchUp)
	for attempt := 1; ctx.Err() == nil; {
		ws, err := l.cfg.Client.DialWebSocket(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			wait := mattermost.Backoff(time.Second, 30*time.Second, attempt)
			l.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "mattermost websocket: cannot connect",
				slog.String("error", err.Error()), slog.Int("attempt", attempt), slog.Duration("retry_in", wait))
			attempt++
			if !sleep(ctx, wait) {
				return
			}
			continue
		}
		ws.Listen()
		start := l.cfg.Now()
		l.seen.Store(start.UnixMilli())
		l.connected.Store(true)
		l.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "mattermost websocket: connected", slog.Time("catch_up_since", since))
		l.spawn(ctx, func(ctx context.Context) { l.catchUp(ctx, since) })
		err = l.read(ctx, ws)
		l.connected.Store(false)
		if ctx.Err() != nil {
			return
		}
		// Read back from the last moment the connection was known to be
		// alive, a little before, never further than CatchUp.
		since = time.UnixMilli(l.seen.Load()).Add(-5 * time.Second)
		if floor := l.cfg.Now().Add(-l.cfg.CatchUp); since.Before(floor) {
			since = floor
		}
		if l.cfg.Now().Sub(start) > time.Minute {
			attempt = 1
		}
		wait := mattermost.Backoff(time.Second, 30*time.Second, attempt)
		attempt++
		l.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "mattermost websocket: disconnected", slog.String("error", errText(err)), slog.Duration("retry_in", wait))
		if !sleep(ctx, wait) {
			return
		}
	}
}

// errPingTimeout: the server stopped answering pings.
var errPingTimeout = errors.New("no ping from Mattermost in time")

// read handles the events of one connection until it ends.
func (l *Listener) read(ctx context.Context, ws *model.WebSocketClient) error {
	events, responses := ws.EventChannel, ws.ResponseChannel
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				if ws.ListenError != nil {
					return ws.ListenError
				}
				return errors.New("connection closed")
			}
			l.seen.Store(l.cfg.Now().UnixMilli())
			l.dispatch(ctx, ev)
		case _, ok := <-responses:
			if !ok {
				responses = nil
			}
		case <-ws.PingTimeoutChannel:
			ws.Close()
			return errPingTimeout
		case <-ctx.Done():
			ws.Close()
			return ctx.Err()
		}
	}
}

// dispatch hands an event to a worker.
func (l *Listener) dispatch(ctx context.Context, ev *model.WebSocketEvent) {
	switch ev.EventType() {
	case model.WebsocketEventPosted:
		if p := eventPost(ev); p != nil && l.cfg.Commands != nil {
			l.spawn(ctx, func(ctx context.Context) { l.mention(ctx, p) })
		}
	case model.WebsocketEventPostEdited, model.WebsocketEventPostDeleted:
		if p := eventPost(ev); p != nil && l.cfg.Rechecks != nil {
			l.spawn(ctx, func(ctx context.Context) { l.changed(ctx, p) })
		}
	}
}

// spawn runs fn on a worker, waiting for a free one.
func (l *Listener) spawn(ctx context.Context, fn func(context.Context)) {
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	l.wg.Add(1)
	go func() {
		defer func() { <-l.sem; l.wg.Done() }()
		fn(ctx)
	}()
}

// bot returns the bot's user id and username, read once.
func (l *Listener) bot(ctx context.Context) (id, name string, err error) {
	l.botMu.Lock()
	defer l.botMu.Unlock()
	if l.botID != "" {
		return l.botID, l.botName, nil
	}
	if id, err = l.cfg.Client.BotUserID(ctx); err != nil {
		return "", "", err
	}
	if name, err = l.cfg.Client.BotUsername(ctx); err != nil {
		return "", "", err
	}
	l.botID, l.botName = id, name
	return id, name, nil
}

// sleep waits d or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
