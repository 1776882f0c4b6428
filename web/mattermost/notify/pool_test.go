package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/outbox"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/mattermost/notify"
)

// verdicts are the decisions made on each request of the order tests, in
// order: two approvals then a denial of a 3-approval request.
var verdicts = []struct {
	who string
	v   models.Verdict
}{{"alice", models.VerdictApprove}, {"bob", models.VerdictApprove}, {"mallory", models.VerdictDeny}}

// assertThreadInOrder checks what Mattermost holds for each request: its
// message once, in carol's thread, at its final state, followed by one
// reply per decision in decision order (posts are ordered by when the
// fake received them); and carol told the outcome once.
func assertThreadInOrder(t *testing.T, e *env, ids []string) {
	t.Helper()
	for _, id := range ids {
		posts := e.botPosts(e.channel.Id, id)
		if len(posts) != 1+len(verdicts) {
			t.Fatalf("%s: %d posts, want the message and %d replies once each", id, len(posts), len(verdicts))
		}
		if !strings.HasPrefix(posts[0].Message, "❌ **DENIED**") {
			t.Fatalf("%s: first post is not the request message at its final state:\n%s", id, posts[0].Message)
		}
		for i, d := range verdicts {
			p := posts[i+1]
			if p.RootId != e.root.Id || !strings.Contains(p.Message, d.who) {
				t.Fatalf("%s: reply %d is not %s's in carol's thread: %s", id, i+1, d.who, p.Message)
			}
		}
		if out := e.dmPosts(t, "carol", id); len(out) != 1 || !strings.Contains(out[0].Message, "denied") {
			t.Fatalf("%s: carol's outcome DMs: %d", id, len(out))
		}
	}
}

// assertNoCreateSentTwice checks that no row's create reached Mattermost
// twice (each carries its own pending_post_id).
func assertNoCreateSentTwice(t *testing.T, e *env) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range e.fake.Requests() {
		if r.Method != "POST" || r.Path != "/api/v4/posts" {
			continue
		}
		var p model.Post
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatal(err)
		}
		if seen[p.PendingPostId] {
			t.Fatalf("create %s sent twice", p.PendingPostId)
		}
		seen[p.PendingPostId] = true
	}
}

// TestDeliveriesRunInParallelAndKeepLaneOrder queues eight requests with
// three decisions each, then drains with eight deliveries at once: the
// fake lets its first calls through only when four are in flight together
// (a one-at-a-time worker would never get past the first), and each
// request's thread still reads message, then replies in decision order.
func TestDeliveriesRunInParallelAndKeepLaneOrder(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		var ids []string
		for i := range 8 {
			ids = append(ids, e.create(t, fmt.Sprintf("restart %d", i), len(verdicts)).ID)
		}
		for _, id := range ids {
			for _, d := range verdicts {
				e.decide(t, id, d.who, d.v)
			}
		}
		e.fake.ResetRequests()
		e.fake.Barrier(4)
		w := e.workerWith(t, "w1", func(c *notify.WorkerConfig) { c.Concurrency = 8 })
		drain(t, w)
		if got := e.fake.MaxInFlight(); got < 4 {
			t.Fatalf("at most %d calls in flight, want at least 4", got)
		}
		assertThreadInOrder(t, e, ids)
		assertNoCreateSentTwice(t, e)
		if n, _ := e.queue.Pending(context.Background()); n != 0 {
			t.Fatalf("%d rows still pending", n)
		}
	})
}

// TestRequestMessageUpdatesAreCoalesced decides three times before the
// worker runs: the request message is created and updated once (not once
// per change), shows the latest state, and the superseded rows are done
// with it; a later decision updates it again.
func TestRequestMessageUpdatesAreCoalesced(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w := e.worker(t, "w1")
		r := e.create(t, "restart", 4)
		for _, who := range []string{"alice", "bob", "dave"} {
			e.decide(t, r.ID, who, models.VerdictApprove)
		}
		e.fake.ResetRequests()
		drain(t, w)
		posts := e.botPosts(e.channel.Id, r.ID)
		if len(posts) != 4 {
			t.Fatalf("want the message and 3 replies, got %d posts", len(posts))
		}
		msg := posts[0]
		patches := e.fake.Count("PUT", "/api/v4/posts/"+msg.Id+"/patch")
		if patches != 1 {
			t.Fatalf("%d updates of the request message for 4 queued renderings, want 1", patches)
		}
		if !strings.Contains(msg.Message, "3 of 4") || !strings.Contains(msg.Message, "PENDING") {
			t.Fatalf("message does not show the latest state:\n%s", msg.Message)
		}
		rows, err := e.queue.ForRequest(context.Background(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		requestPosts := 0
		for _, m := range rows {
			if m.State != outbox.StateDone {
				t.Fatalf("row %d (%s) is %s", m.ID, m.Kind, m.State)
			}
			if m.Kind == outbox.KindRequestPost {
				requestPosts++
				if m.PostID != msg.Id {
					t.Fatalf("request-message row %d done with post %q, want %s", m.ID, m.PostID, msg.Id)
				}
			}
		}
		if requestPosts != 4 {
			t.Fatalf("%d request-message rows, want 4 (created + 3 decisions)", requestPosts)
		}
		e.decide(t, r.ID, "mallory", models.VerdictApprove)
		e.fake.ResetRequests()
		drain(t, w)
		if n := e.fake.Count("PUT", "/api/v4/posts/"+msg.Id+"/patch"); n != 1 {
			t.Fatalf("%d updates after the fourth decision, want 1", n)
		}
		got, _ := e.fake.PostByID(msg.Id)
		if !strings.HasPrefix(got.Message, "✅ **APPROVED**") || !strings.Contains(got.Message, "4 of 4") {
			t.Fatalf("final message:\n%s", got.Message)
		}
	})
}

// racingRequests commits a change right after the first load of a
// request, as if someone decided while its message was being rendered.
type racingRequests struct {
	notify.Requests
	once   sync.Once
	during func()
}

func (r *racingRequests) Get(ctx context.Context, id string) (*models.Request, error) {
	req, err := r.Requests.Get(ctx, id)
	r.once.Do(r.during)
	return req, err
}

// TestChangeDuringRenderingIsNotSwallowed decides while the request
// message is being rendered from the state before: that decision's own
// update was not seen when the row was claimed, so it is not superseded
// and the message ends at the new state.
func TestChangeDuringRenderingIsNotSwallowed(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r := e.create(t, "restart", 2)
		reqs := &racingRequests{Requests: e.queue.Requests(), during: func() { e.decide(t, r.ID, "alice", models.VerdictApprove) }}
		w := e.workerWith(t, "w1", func(c *notify.WorkerConfig) { c.Requests = reqs })
		drain(t, w)
		posts := e.botPosts(e.channel.Id, r.ID)
		if len(posts) != 2 {
			t.Fatalf("want the message and alice's reply, got %d posts", len(posts))
		}
		if !strings.Contains(posts[0].Message, "1 of 2") {
			t.Fatalf("the decision made during rendering is missing from the message:\n%s", posts[0].Message)
		}
	})
}

// TestTwoProcessesDeliverOnceInLaneOrder runs two workers on two stores
// (two processes on one database), four deliveries each, while decisions
// are being made: every message is posted once, no create is sent twice,
// and every thread keeps its order.
func TestTwoProcessesDeliverOnceInLaneOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		e2 := *e
		e2.store = b.Open(t)
		e2.queue = outbox.NewQueue(e2.store)
		workers := []*notify.Worker{
			e.workerWith(t, "w1", func(c *notify.WorkerConfig) { c.Concurrency = 4 }),
			e2.workerWith(t, "w2", func(c *notify.WorkerConfig) { c.Concurrency = 4 }),
		}
		var ids []string
		for i := range 6 {
			ids = append(ids, e.create(t, fmt.Sprintf("restart %d", i), len(verdicts)).ID)
		}
		for _, d := range verdicts {
			var wg sync.WaitGroup
			for _, w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := w.Drain(context.Background()); err != nil {
						t.Error(err)
					}
				}()
			}
			for _, id := range ids {
				e.decide(t, id, d.who, d.v)
			}
			wg.Wait()
		}
		drain(t, workers[1])
		drain(t, workers[0])
		assertThreadInOrder(t, e, ids)
		assertNoCreateSentTwice(t, e)
	})
}

// hookChat runs a hook before each create, with the post to create.
type hookChat struct {
	notify.Chat
	before func(*model.Post)
}

func (c *hookChat) CreatePost(ctx context.Context, p *model.Post) (*model.Post, error) {
	c.before(p)
	return c.Chat.CreatePost(ctx, p)
}

// A row claimed ahead that waited so long that its lease could run out
// during its delivery is given back and claimed afresh instead of started
// on the old lease (once a lease is over another worker may take the row
// and send it too); a lease too short for any delivery is refused.
func TestRowClaimedAheadStartsOnlyWithLeaseLeft(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r1 := e.create(t, "restart 1", 1)
		r2 := e.create(t, "restart 2", 1)
		var leaseLeft time.Duration
		var once sync.Once
		chat := &hookChat{Chat: e.client, before: func(p *model.Post) {
			switch p.GetProp(outbox.PropRequest) {
			case r1.ID:
				// The first delivery is slow: r2's row, claimed with it,
				// waits a minute for the only slot.
				once.Do(func() { e.clock.Advance(time.Minute) })
			case r2.ID:
				if leaseLeft != 0 {
					return // a DM about r2, later
				}
				rows, err := e.queue.ForRequest(context.Background(), r2.ID)
				if err != nil {
					t.Error(err)
					return
				}
				leaseLeft = time.Duration(rows[0].LeaseUntilUS-e.clock.Now().UnixMicro()) * time.Microsecond
			}
		}}
		w := e.workerWith(t, "w1", func(c *notify.WorkerConfig) { c.Chat, c.Concurrency, c.Batch = chat, 1, 2 })
		drain(t, w)
		if leaseLeft != notify.DefaultLease {
			t.Fatalf("r2's row started with %s of lease left, want a fresh claim (%s)", leaseLeft, notify.DefaultLease)
		}
		for _, id := range []string{r1.ID, r2.ID} {
			if n := len(e.botPosts(e.channel.Id, id)); n != 1 {
				t.Fatalf("%s: %d request messages", id, n)
			}
		}
		rows, _ := e.queue.ForRequest(context.Background(), r2.ID)
		if rows[0].Attempts != 1 {
			t.Fatalf("r2's row used %d attempts, want 1 (a row given back unstarted costs none)", rows[0].Attempts)
		}
		if _, err := notify.NewWorker(notify.WorkerConfig{Queue: e.queue, Chat: e.client, Lease: time.Minute, CallTimeout: 30 * time.Second}); err == nil {
			t.Fatal("a lease shorter than two call timeouts and the record time was accepted")
		}
	})
}
