package notify_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/clocktest"
	"github.com/countersign/countersign/models/outbox"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/mattermost"
	"github.com/countersign/countersign/web/mattermost/mmfake"
	"github.com/countersign/countersign/web/mattermost/notify"
)

const publicURL = "https://cs.example.com"

// env is a fake Mattermost with a team, a channel with carol's thread,
// people (carol requests; alice, bob approve; dave sponsors agents),
// Countersign's bot, and a store with the outbox hook.
type env struct {
	fake    *mmfake.Server
	client  *mattermost.Client
	store   *models.Store
	svc     *approval.Service
	queue   *outbox.Queue
	clock   *clocktest.Clock
	signer  *notify.Signer
	botID   string
	channel *model.Channel
	root    *model.Post
	reply   *model.Post
	people  map[string]*model.User
}

// eachEnv runs fn as a subtest on a fresh env of SQLite and of
// PostgreSQL.
func eachEnv(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) { fn(t, newEnv(t, b)) })
}

func newEnv(t testing.TB, b storetest.Backend) *env {
	t.Helper()
	fake := mmfake.New(t)
	team := fake.NewTeam("ops")
	e := &env{fake: fake, people: map[string]*model.User{}, clock: clocktest.At(time.Now().UTC().Truncate(time.Millisecond))}
	ids := []string{}
	for _, n := range []string{"carol", "alice", "bob", "dave", "mallory"} {
		u := fake.AddHuman(n)
		e.people[n] = u
		ids = append(ids, u.Id)
	}
	bot := fake.AddBot("countersign", e.people["dave"].Id)
	e.botID = bot.Id
	e.channel = fake.NewChannel(team.Id, "incidents", model.ChannelTypeOpen, append(ids, bot.Id)...)
	e.root = fake.Post(e.channel.Id, e.people["carol"].Id, "payments-api is OOM looping, restart?")
	e.reply = fake.Reply(e.root.Id, e.people["bob"].Id, "heap dump attached, go ahead")
	c, err := mattermost.New(mattermost.Config{
		SiteURL: fake.URL(), BotToken: fake.NewToken(bot.Id), CallTimeout: 2 * time.Second,
		MaxAttempts: 1, BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	e.store = b.Open(t)
	e.svc = approval.New(e.store, approval.Config{Now: e.clock.Now, ApproverRoles: []string{"approver"}, Effects: approval.Effects{Chat: outbox.Hook{}}})
	e.queue = outbox.NewQueue(e.store)
	if e.signer, err = notify.NewSigner([]byte("0123456789abcdef0123456789abcdef")); err != nil {
		t.Fatal(err)
	}
	return e
}

// worker returns a worker named owner on the env's store.
func (e *env) worker(t testing.TB, owner string) *notify.Worker {
	t.Helper()
	return e.workerWith(t, owner, nil)
}

// workerWith returns a worker named owner on the env's store, its
// configuration adjusted by tweak first.
func (e *env) workerWith(t testing.TB, owner string, tweak func(*notify.WorkerConfig)) *notify.Worker {
	t.Helper()
	cfg := notify.WorkerConfig{
		Queue: e.queue, Chat: e.client, Render: notify.Renderer{PublicURL: publicURL},
		Directory: notify.StaticApprovers{"alice", "bob", "carol", "@Alice"}, Signer: e.signer,
		ActionURL: publicURL + "/hooks/mattermost/action", Owner: owner, Now: e.clock.Now,
		BackoffBase: time.Second, BackoffMax: 10 * time.Second, MaxAttempts: 100,
		Logger: slog.New(slog.DiscardHandler),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	w, err := notify.NewWorker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// countingChat counts the worker's probes.
type countingChat struct {
	notify.Chat
	pings atomic.Int64
}

func (c *countingChat) Ping(ctx context.Context) error {
	c.pings.Add(1)
	return c.Chat.Ping(ctx)
}

// capture reads carol's thread as the slash command would.
func (e *env) capture(t testing.TB) *mattermost.Capture {
	t.Helper()
	capt, err := e.client.Capture(context.Background(), mattermost.CaptureRequest{PostRef: e.root.Id, ChannelID: e.channel.Id, ExcludeUserIDs: []string{e.botID}})
	if err != nil {
		t.Fatal(err)
	}
	return capt
}

// create opens carol's restart request on her thread.
func (e *env) create(t testing.TB, purpose string, approvals int) *models.Request {
	t.Helper()
	return e.createFrom(t, e.capture(t), purpose, approvals)
}

// createFrom opens carol's restart request on a conversation captured
// before (load runs capture once for many requests).
func (e *env) createFrom(t testing.TB, capt *mattermost.Capture, purpose string, approvals int) *models.Request {
	t.Helper()
	carol := e.people["carol"]
	r, err := e.svc.Create(context.Background(), approval.NewRequest{
		Kind: models.KindAction, Action: "restart", Params: map[string]any{"service": "payments-api", "env": "prod"},
		Purpose: purpose, Requester: models.Actor{Type: models.ActorHuman, ID: carol.Id, Display: carol.Username},
		Source: capt.Source, Posts: capt.Posts, TTL: time.Hour, RequiredApprovals: approvals,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// decide records a verdict by a person (subject = their Mattermost id).
func (e *env) decide(t testing.TB, id, who string, v models.Verdict) *approval.Outcome {
	t.Helper()
	r, err := e.svc.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	u := e.people[who]
	comment := ""
	if v == models.VerdictDeny {
		comment = "not now"
	}
	out, err := e.svc.Decide(context.Background(), approval.Decision{
		RequestID: id, Approver: approval.Approver{Actor: models.Actor{Type: models.ActorHuman, ID: u.Id, Display: u.Username}, Username: u.Username, Roles: []string{"approver"}},
		Verdict: v, Comment: comment, ContentHash: r.ContentHash,
		StepUp: approval.StepUp{AuthTime: e.clock.Now(), ACR: "urn:example:mfa", AMR: []string{"pwd", "otp"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// drain runs a worker until nothing is due.
func drain(t *testing.T, w *notify.Worker) int {
	t.Helper()
	n, err := w.Drain(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// botPosts returns the live posts the bot made about request id in a
// channel, oldest first.
func (e *env) botPosts(channelID, id string) []*model.Post {
	var out []*model.Post
	for _, p := range e.fake.ChannelPosts(channelID) {
		if p.UserId == e.botID && p.GetProp(outbox.PropRequest) == id {
			out = append(out, p)
		}
	}
	return out
}

// wantPostedOnce fails t unless request id has exactly one request
// message in the channel and one DM to each of alice and bob.
func (e *env) wantPostedOnce(t *testing.T, id string) {
	t.Helper()
	if n := len(e.botPosts(e.channel.Id, id)); n != 1 {
		t.Fatalf("%s: %d request messages", id, n)
	}
	for _, who := range []string{"alice", "bob"} {
		if n := len(e.dmPosts(t, who, id)); n != 1 {
			t.Fatalf("%s: %s got %d DMs", id, who, n)
		}
	}
}

// dmPosts returns the bot's DM posts to user about request id.
func (e *env) dmPosts(t *testing.T, user, id string) []*model.Post {
	t.Helper()
	ch, err := e.client.DirectChannel(context.Background(), e.people[user].Id)
	if err != nil {
		t.Fatal(err)
	}
	return e.botPosts(ch, id)
}
