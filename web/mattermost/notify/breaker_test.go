package notify_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models/outbox"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/mattermost/mmfake"
	"github.com/countersign/countersign/web/mattermost/notify"
)

// deliveryCalls counts the recorded calls other than probes.
func deliveryCalls(e *env) int {
	n := 0
	for _, r := range e.fake.Requests() {
		if r.Path != "/api/v4/users/me" {
			n++
		}
	}
	return n
}

// TestOutageIsProbedThenEverythingGoesOutAtOnce takes Mattermost down in
// each way an outage shows (5xx, hang-ups, rate limiting, a refused
// token) for five hours of the worker's clock, with two attempts allowed
// per message. The messages are tried once, then held: one probe per
// interval, no delivery attempts, no attempts used, nothing failed. When
// Mattermost is back, the first probe due finds it and the same drain
// delivers everything, once.
func TestOutageIsProbedThenEverythingGoesOutAtOnce(t *testing.T) {
	for _, status := range []int{503, mmfake.HangUp, 429, 401} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			eachEnv(t, func(t *testing.T, e *env) {
				chat := &countingChat{Chat: e.client}
				w := e.workerWith(t, "w1", func(c *notify.WorkerConfig) {
					c.Chat, c.MaxAttempts, c.ProbeInterval, c.Concurrency = chat, 2, time.Second, 4
				})
				var ids []string
				for i := range 3 {
					ids = append(ids, e.create(t, fmt.Sprintf("restart %d", i), 2).ID)
				}
				e.fake.Outage(status)
				e.fake.ResetRequests()
				drain(t, w)
				if n := chat.pings.Load(); n != 1 {
					t.Fatalf("%d probes when the outage was met, want 1", n)
				}
				if n := e.fake.Count("POST", "/api/v4/posts"); n != len(ids) {
					t.Fatalf("%d creates tried, want one per request message (%d)", n, len(ids))
				}
				assertHeld := func(when string) {
					t.Helper()
					for _, id := range ids {
						rows, err := e.queue.ForRequest(context.Background(), id)
						if err != nil {
							t.Fatal(err)
						}
						for _, m := range rows {
							if m.State != outbox.StatePending || m.Attempts != 0 {
								t.Fatalf("%s: row %d (%s) is %s after %d attempts: %s", when, m.ID, m.Kind, m.State, m.Attempts, m.LastError)
							}
							if m.Kind == outbox.KindRequestPost && !strings.HasPrefix(m.LastError, "held") {
								t.Fatalf("%s: row %d not marked held: %q", when, m.ID, m.LastError)
							}
						}
					}
				}
				assertHeld("outage met")

				// Before the next probe is due nothing is called at all.
				e.fake.ResetRequests()
				e.clock.Advance(500 * time.Millisecond)
				drain(t, w)
				if n := len(e.fake.Requests()); n != 0 || chat.pings.Load() != 1 {
					t.Fatalf("%d calls and %d probes before the probe was due", n, chat.pings.Load())
				}
				// Five hours: one probe per drain once due, no deliveries.
				for range 10 {
					e.clock.Advance(30 * time.Minute)
					drain(t, w)
				}
				if n := chat.pings.Load(); n != 11 {
					t.Fatalf("%d probes over 10 due intervals, want 11 in all", n)
				}
				if n := deliveryCalls(e); n != 0 {
					t.Fatalf("%d delivery calls while Mattermost was known down", n)
				}
				assertHeld("five hours later")

				e.fake.EndOutage()
				e.fake.ResetRequests()
				chat.pings.Store(0)
				e.clock.Advance(time.Second)
				drain(t, w)
				if n := chat.pings.Load(); n != 1 {
					t.Fatalf("%d probes after recovery, want 1", n)
				}
				// The probe came first; the held creates then look for the
				// posts they may have made before creating them.
				if reqs := e.fake.Requests(); len(reqs) == 0 || reqs[0].Path != "/api/v4/users/me" {
					t.Fatalf("after recovery the calls began %v, want the probe first", paths(reqs, 3))
				}
				for _, id := range ids {
					e.wantPostedOnce(t, id)
					rows, _ := e.queue.ForRequest(context.Background(), id)
					for _, m := range rows {
						if m.State != outbox.StateDone || m.Attempts != 1 {
							t.Fatalf("row %d (%s): %s after %d attempts", m.ID, m.Kind, m.State, m.Attempts)
						}
					}
				}
			})
		})
	}
}

func paths(rs []mmfake.Request, n int) []string {
	var out []string
	for _, r := range rs[:min(n, len(rs))] {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// TestRowFailureCountsWhileMattermostAnswers makes Mattermost refuse only
// the updates of the request message with 500 while everything else,
// including the probe, works: that is the row's own failure, so its
// attempts count, it backs off, it fails for good after MaxAttempts, and
// the rest of its lane then goes out.
func TestRowFailureCountsWhileMattermostAnswers(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		chat := &countingChat{Chat: e.client}
		w := e.workerWith(t, "w1", func(c *notify.WorkerConfig) { c.Chat, c.MaxAttempts = chat, 3 })
		r := e.create(t, "restart", 1)
		e.fake.Inject(mmfake.Fault{Method: "PUT", PathPrefix: "/api/v4/posts/", Status: 500, Times: 100})
		for range 3 {
			drain(t, w)
			e.clock.Advance(11 * time.Second)
		}
		drain(t, w)
		rows, _ := e.queue.ForRequest(context.Background(), r.ID)
		if rows[0].Kind != outbox.KindRequestPost || rows[0].State != outbox.StateFailed || rows[0].Attempts != 3 || !strings.Contains(rows[0].LastError, "gave up after 3 attempts") {
			t.Fatalf("request message row: %+v", rows[0])
		}
		if n := chat.pings.Load(); n != 3 {
			t.Fatalf("%d probes, want one per failed attempt", n)
		}
		for _, who := range []string{"alice", "bob"} {
			if n := len(e.dmPosts(t, who, r.ID)); n != 1 {
				t.Fatalf("%s got %d DMs after the message failed", who, n)
			}
		}
	})
}

// TestAnswerLostAsOutageBeginsDoesNotDoublePost loses the answer to a
// create that Mattermost stored, just as it goes down: the row is held
// (its attempt given back), Mattermost forgets the pending_post_id, and
// the attempt after recovery finds the post instead of posting again.
func TestAnswerLostAsOutageBeginsDoesNotDoublePost(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w := e.worker(t, "w1")
		r := e.create(t, "restart", 1)
		e.fake.Inject(mmfake.Fault{Method: "POST", PathPrefix: "/api/v4/posts", AfterHandling: true, Status: 502, Times: 1})
		e.fake.Inject(mmfake.Fault{Method: "GET", PathPrefix: "/api/v4/users/me", Status: 503, Times: 1})
		drain(t, w)
		if e.fake.PendingFaults() != 0 {
			t.Fatal("faults not hit")
		}
		rows, _ := e.queue.ForRequest(context.Background(), r.ID)
		if rows[0].Attempts != 0 || !strings.HasPrefix(rows[0].LastError, "held") {
			t.Fatalf("row not held: %+v", rows[0])
		}
		e.fake.ForgetPendingPostIDs()
		e.clock.Advance(notify.DefaultProbeInterval)
		drain(t, w)
		if n := len(e.botPosts(e.channel.Id, r.ID)); n != 1 {
			t.Fatalf("request message posted %d times", n)
		}
	})
}

// TestProcessDiedBetweenPostAndMark has a process claim the request
// message's row and post it, then die before recording anything. Once the
// lease has run out, a worker of another process (another store on the
// same database) takes the row, finds the post by its key, and updates it
// instead of posting a second one.
func TestProcessDiedBetweenPostAndMark(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		r := e.create(t, "restart", 1)
		claimed, err := e.queue.Claim(ctx, "died", e.clock.Now(), notify.DefaultLease, 10)
		if err != nil || len(claimed) != 1 || claimed[0].Kind != outbox.KindRequestPost {
			t.Fatalf("claim %+v %v", claimed, err)
		}
		cp, err := e.queue.EnsureChatPost(ctx, r.ID, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		dead, err := e.client.CreatePost(ctx, &model.Post{
			ChannelId: e.channel.Id, RootId: e.root.Id, Message: "half-rendered", PendingPostId: cp.IdemKey,
			Props: model.StringInterface{outbox.PropKey: cp.IdemKey, outbox.PropRequest: r.ID},
		})
		if err != nil {
			t.Fatal(err)
		}
		e.fake.ForgetPendingPostIDs()

		e2 := *e
		e2.store = b.Open(t)
		e2.queue = outbox.NewQueue(e2.store)
		w2 := e2.worker(t, "w2")
		drain(t, w2)
		if rows, _ := e2.queue.ForRequest(ctx, r.ID); rows[0].LeaseOwner != "died" || e.fake.Count("POST", "/api/v4/posts") != 1 {
			t.Fatalf("the row was taken over before its lease ran out: %+v", rows[0])
		}
		e.clock.Advance(notify.DefaultLease + time.Second)
		drain(t, w2)
		posts := e.botPosts(e.channel.Id, r.ID)
		if len(posts) != 1 || posts[0].Id != dead.Id {
			t.Fatalf("%d request messages (want the one the dead process made)", len(posts))
		}
		if !strings.Contains(posts[0].Message, publicURL+"/requests/"+r.ID) {
			t.Fatalf("the found post was not updated:\n%s", posts[0].Message)
		}
		if cp, _ := e2.queue.ChatPost(ctx, r.ID); cp.PostID != dead.Id {
			t.Fatalf("recorded post %q, want %s", cp.PostID, dead.Id)
		}
	})
}
