package listen_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/mention"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/mattermost"
	"github.com/countersign/countersign/web/mattermost/listen"
	"github.com/countersign/countersign/web/mattermost/mmreal"
)

// recorder stands in for the command runner and the re-checker: the
// listener's own behaviour (which events become calls, how often, with
// what) is what these tests check against the real server; the domain
// behind it is tested through the whole portal in cmd/countersign.
type recorder struct {
	mu       sync.Mutex
	calls    []mattermost.CommandCall
	rechecks []string
}

func (r *recorder) Run(_ context.Context, call mattermost.CommandCall) mattermost.CommandReply {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, call)
	return mattermost.CommandReply{Text: "ran: " + call.Text}
}

func (r *recorder) RecheckPost(_ context.Context, postID string) (*approval.PostRecheck, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rechecks = append(r.rechecks, postID)
	return &approval.PostRecheck{}, nil
}

func (r *recorder) snapshot() ([]mattermost.CommandCall, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]mattermost.CommandCall(nil), r.calls...), append([]string(nil), r.rechecks...)
}

// waitFor polls cond for up to 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// replica is one Countersign process's listener.
type replica struct {
	l    *listen.Listener
	stop func()
}

func startReplica(t *testing.T, w *mmreal.World, claims listen.Claims, rec *recorder, catchUp time.Duration) *replica {
	t.Helper()
	client, err := mattermost.New(mattermost.Config{SiteURL: w.Server.URL, BotToken: w.Bot.Token})
	if err != nil {
		t.Fatal(err)
	}
	l, err := listen.New(listen.Config{Client: client, Commands: rec, Claims: claims, Rechecks: rec, CatchUp: catchUp, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	waitFor(t, "the WebSocket to connect", l.Connected)
	return &replica{l: l, stop: stop}
}

// TestListenerAgainstRealMattermost runs two replicas' listeners on one
// claims store against the real server. A mention typed in a thread is
// run once (not once per replica) with the thread's root, the post and
// the text after the mention, and answered once in that thread; a
// top-level mention has no root and is answered under itself; a post
// that only talks about the bot, and the bot's own posts, run nothing; a
// webhook post that starts with the mention runs nothing and is refused
// in its thread; edits and deletions of people's posts reach the
// re-checker.
func TestListenerAgainstRealMattermost(t *testing.T) {
	w := mmreal.Shared(t).NewWorld(t, "alice", "bob")
	store := storetest.SQLite(t).Open(t)
	claims := mention.NewClaims(store, nil)
	rec := &recorder{}
	startReplica(t, w, claims, rec, time.Minute)
	startReplica(t, w, claims, rec, time.Minute)
	alice, bob := w.Person("alice"), w.Person("bob")
	bot := "@" + w.Bot.User.Username

	root := w.Post(alice, w.Channel.Id, "payments-api is OOM looping")
	w.Reply(bob, root.Id, "heap dump attached")
	m := w.Reply(alice, root.Id, bot+" restart payments-api env=prod -- OOM loop")
	waitFor(t, "the mention to be run", func() bool { c, _ := rec.snapshot(); return len(c) >= 1 })
	answer := w.WaitForPost(w.Channel.Id, m.CreateAt, 15*time.Second, func(p *model.Post) bool {
		return p.UserId == w.Bot.User.Id && p.RootId == root.Id && p.Message == "ran: restart payments-api env=prod -- OOM loop"
	})

	top := w.Post(bob, w.Channel.Id, bot+"   help")
	w.Post(alice, w.Channel.Id, "shall we ask "+bot+" restart payments-api?")
	hook := w.WebhookPost(bot+" restart payments-api env=prod -- from a webhook", "alice")
	refusal := w.WaitForPost(w.Channel.Id, hook.CreateAt, 15*time.Second, func(p *model.Post) bool {
		return p.UserId == w.Bot.User.Id && p.RootId == hook.Id
	})
	if !strings.Contains(refusal.Message, "incoming webhook cannot ask Countersign") {
		t.Errorf("webhook mention answered %q", refusal.Message)
	}
	w.WaitForPost(w.Channel.Id, top.CreateAt, 15*time.Second, func(p *model.Post) bool {
		return p.UserId == w.Bot.User.Id && p.RootId == top.Id && p.Message == "ran: help"
	})

	edited := w.Reply(bob, root.Id, "go ahead")
	w.Edit(bob, edited.Id, "WAIT, do not restart")
	gone := w.Reply(alice, root.Id, "lgtm")
	w.Delete(alice, gone.Id)
	waitFor(t, "the edit and the deletion to reach the re-checker", func() bool {
		_, r := rec.snapshot()
		return contains(r, edited.Id) && contains(r, gone.Id)
	})
	// Settle: anything a second replica would wrongly do has happened.
	time.Sleep(time.Second)
	calls, rechecks := rec.snapshot()
	if len(calls) != 2 {
		t.Fatalf("%d commands run, want 2 (the thread mention and the top-level one): %+v", len(calls), calls)
	}
	if c := calls[0]; c.PostID != m.Id || c.RootID != root.Id || c.ChannelID != w.Channel.Id || c.UserID != alice.Id || c.Text != "restart payments-api env=prod -- OOM loop" {
		t.Errorf("thread mention ran as %+v", c)
	}
	if c := calls[1]; c.PostID != top.Id || c.RootID != "" || c.UserID != bob.Id || c.Text != "help" {
		t.Errorf("top-level mention ran as %+v", c)
	}
	for _, id := range rechecks {
		if id == answer.Id || id == refusal.Id {
			t.Errorf("the bot's own post %s was re-checked", id)
		}
	}
	var answers int
	for _, p := range w.ThreadPosts(root.Id) {
		if p.UserId == w.Bot.User.Id {
			answers++
		}
	}
	if answers != 1 {
		t.Errorf("%d answers in the thread from two replicas, want 1", answers)
	}
	row, err := claims.Get(context.Background(), m.Id)
	if err != nil || !row.Done {
		t.Errorf("mention row %+v, %v", row, err)
	}
}

// TestListenerCatchesUp: a mention and an edit made while no listener
// was connected (Countersign restarting) are acted on when it connects,
// within the catch-up window; a mention answered before the restart is
// not answered again.
func TestListenerCatchesUp(t *testing.T) {
	w := mmreal.Shared(t).NewWorld(t, "alice")
	store := storetest.SQLite(t).Open(t)
	claims := mention.NewClaims(store, nil)
	alice := w.Person("alice")
	bot := "@" + w.Bot.User.Username

	first := &recorder{}
	r1 := startReplica(t, w, claims, first, time.Minute)
	answered := w.Post(alice, w.Channel.Id, bot+" status REQ-0000000001")
	waitFor(t, "the first mention", func() bool { c, _ := first.snapshot(); return len(c) == 1 })
	w.WaitForPost(w.Channel.Id, answered.CreateAt, 15*time.Second, func(p *model.Post) bool { return p.RootId == answered.Id })
	r1.stop()

	missed := w.Post(alice, w.Channel.Id, bot+" help")
	captured := w.Post(alice, w.Channel.Id, "the plan")
	w.Edit(alice, captured.Id, "the plan, changed")

	again := &recorder{}
	startReplica(t, w, claims, again, time.Minute)
	waitFor(t, "the missed mention and edit", func() bool {
		c, r := again.snapshot()
		return len(c) >= 1 && contains(r, captured.Id)
	})
	time.Sleep(time.Second)
	calls, _ := again.snapshot()
	if len(calls) != 1 || calls[0].PostID != missed.Id {
		t.Fatalf("after the restart ran %+v, want only the missed mention %s", calls, missed.Id)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
