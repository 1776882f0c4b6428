package notify_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/outbox"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/mattermost/mmfake"
)

// TestRequestMessageIsPostedOnceAndUpdatedInPlace follows a 2-approval
// request: one message in carol's thread, DMs to the approvers but not to
// carol, the same message updated after each decision, one thread reply
// per decision with its step-up method, and carol told the outcome.
func TestRequestMessageIsPostedOnceAndUpdatedInPlace(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w := e.worker(t, "w1")
		r := e.create(t, "OOM loop, INC-4211", 2)
		drain(t, w)

		posts := e.botPosts(e.channel.Id, r.ID)
		if len(posts) != 1 {
			t.Fatalf("want the request message only, got %d posts", len(posts))
		}
		msg := posts[0]
		if msg.RootId != e.root.Id {
			t.Fatalf("request message root %q, want carol's thread %q", msg.RootId, e.root.Id)
		}
		for _, want := range []string{"⏳", r.ID, "carol", "restart", "`env=prod`, `service=payments-api`", "OOM loop, INC\\-4211", "0 of 2", publicURL + "/requests/" + r.ID} {
			if !strings.Contains(msg.Message, want) {
				t.Errorf("request message lacks %q:\n%s", want, msg.Message)
			}
		}
		cp, err := e.queue.ChatPost(context.Background(), r.ID)
		if err != nil || cp.PostID != msg.Id {
			t.Fatalf("stored chat post %+v, %v; want %s", cp, err, msg.Id)
		}
		if msg.GetProp("attachments") == nil {
			t.Fatal("a pending request message carries the cancel button")
		}
		for _, who := range []string{"alice", "bob"} {
			dms := e.dmPosts(t, who, r.ID)
			if len(dms) != 1 || !strings.Contains(dms[0].Message, publicURL+"/requests/"+r.ID) {
				t.Fatalf("%s got %d DMs (want 1 with the link)", who, len(dms))
			}
		}
		if dms := e.dmPosts(t, "carol", r.ID); len(dms) != 0 {
			t.Fatalf("the requester was asked to approve: %d DMs", len(dms))
		}

		// approve records who's approval and returns the bot's posts about
		// r: the message, kept in place, and a reply per decision so far.
		approve := func(who string, replies int) []*model.Post {
			t.Helper()
			e.decide(t, r.ID, who, models.VerdictApprove)
			drain(t, w)
			posts := e.botPosts(e.channel.Id, r.ID)
			if len(posts) != 1+replies || posts[0].Id != msg.Id {
				t.Fatalf("after %s's approval want the message and %d replies, got %d", who, replies, len(posts))
			}
			return posts
		}
		posts = approve("alice", 1)
		if !strings.Contains(posts[0].Message, "1 of 2") || !strings.Contains(posts[0].Message, "PENDING") {
			t.Fatalf("message not updated in place:\n%s", posts[0].Message)
		}
		reply := posts[1]
		for _, want := range []string{"alice", "approved", "acr `urn:example:mfa`", "amr `pwd otp`", "@\u200balice"} {
			if !strings.Contains(reply.Message, want) {
				t.Errorf("decision reply lacks %q:\n%s", want, reply.Message)
			}
		}
		if reply.RootId != e.root.Id {
			t.Fatalf("decision reply outside the thread")
		}

		posts = approve("bob", 2)
		if !strings.HasPrefix(posts[0].Message, "✅ **APPROVED**") || !strings.Contains(posts[0].Message, "2 of 2") {
			t.Fatalf("final message:\n%s", posts[0].Message)
		}
		if posts[0].GetProp("attachments") != nil {
			t.Fatal("a decided request keeps no cancel button")
		}
		if !strings.Contains(posts[2].Message, "bob") {
			t.Fatalf("second reply is not bob's: %s", posts[2].Message)
		}
		out := e.dmPosts(t, "carol", r.ID)
		if len(out) != 1 || !strings.Contains(out[0].Message, "approved") {
			t.Fatalf("carol was not told the outcome: %d DMs", len(out))
		}
		if e.fake.Count("POST", "/api/v4/posts") != 6 {
			t.Fatalf("want 6 creates (message, 2 DMs, 2 replies, outcome), got %d", e.fake.Count("POST", "/api/v4/posts"))
		}
	})
}

// TestMattermostDownThenUpDeliversEverythingOnceInOrder fails every call
// for a while: the rows are held (the outage costs them no attempts) while
// the worker probes, then everything arrives once, decision replies in
// decision order.
func TestMattermostDownThenUpDeliversEverythingOnceInOrder(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w := e.worker(t, "w1")
		r := e.create(t, "restart", 3)
		e.fake.FailNext(40, 503)
		e.decide(t, r.ID, "alice", models.VerdictApprove)
		e.decide(t, r.ID, "bob", models.VerdictApprove)
		e.decide(t, r.ID, "mallory", models.VerdictDeny)
		for round := 0; e.fake.PendingFaults() > 0; round++ {
			if round > 200 {
				t.Fatal("faults never consumed")
			}
			drain(t, w)
			e.clock.Advance(11 * time.Second)
		}
		drain(t, w)
		rows, err := e.queue.ForRequest(context.Background(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range rows {
			if m.State != outbox.StateDone {
				t.Fatalf("row %d (%s) is %s: %s", m.ID, m.Kind, m.State, m.LastError)
			}
			if m.Attempts > 1 {
				t.Fatalf("row %d (%s) used %d attempts: the outage was counted against it", m.ID, m.Kind, m.Attempts)
			}
		}
		refused := 0
		for _, r := range e.fake.Requests() {
			if r.Status == 503 {
				refused++
			}
		}
		if refused != 40 {
			t.Fatalf("%d calls answered 503, want the 40 of the outage", refused)
		}
		posts := e.botPosts(e.channel.Id, r.ID)
		if len(posts) != 4 {
			t.Fatalf("want the message and 3 replies exactly once, got %d", len(posts))
		}
		for i, who := range []string{"alice", "bob", "mallory"} {
			if !strings.Contains(posts[i+1].Message, who) {
				t.Fatalf("reply %d is not %s's: %s", i+1, who, posts[i+1].Message)
			}
		}
		if !strings.HasPrefix(posts[0].Message, "❌ **DENIED**") {
			t.Fatalf("message not at final state:\n%s", posts[0].Message)
		}
		// The request was decided before chat came back: nobody is asked
		// to approve it any more, but carol hears the outcome once.
		if n := len(e.dmPosts(t, "alice", r.ID)); n != 0 {
			t.Fatalf("alice was asked to approve a closed request (%d DMs)", n)
		}
		if out := e.dmPosts(t, "carol", r.ID); len(out) != 1 || !strings.Contains(out[0].Message, "denied") {
			t.Fatalf("carol's outcome DMs: %d", len(out))
		}
	})
}

// TestRefusedMessageIsMarkedFailed posts into a channel the bot is not in:
// Mattermost answers 403, which is tried a few times (a permission may
// come a moment later) and then marked failed; a bot added back to the
// channel in between gets the message through.
func TestRefusedMessageIsMarkedFailed(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w := e.worker(t, "w1")
		e.fake.RemoveMember(e.channel.Id, e.botID)
		r := e.create(t, "restart", 1)
		for i := 0; i < 4; i++ {
			drain(t, w)
			e.clock.Advance(time.Hour)
		}
		rows, _ := e.queue.ForRequest(context.Background(), r.ID)
		if rows[0].Kind != outbox.KindRequestPost || rows[0].State != outbox.StateFailed || rows[0].Attempts != 3 || !strings.Contains(rows[0].LastError, "403") {
			t.Fatalf("request message row: %+v", rows[0])
		}
		if len(e.dmPosts(t, "alice", r.ID)) != 1 {
			t.Fatal("a failed thread message must not block the DMs")
		}

		// Refused once, then the bot is added to the channel: delivered.
		later := e.create(t, "restart", 1)
		drain(t, w)
		e.fake.AddMember(e.channel.Id, e.botID)
		e.clock.Advance(time.Hour)
		drain(t, w)
		rows, _ = e.queue.ForRequest(context.Background(), later.ID)
		if rows[0].State != outbox.StateDone || rows[0].Attempts != 2 || len(e.botPosts(e.channel.Id, later.ID)) != 1 {
			t.Fatalf("request message after the bot was added: %+v", rows[0])
		}
	})
}

// TestCrashBetweenPostAndMarkDoesNotDoublePost loses the answer to the
// create after Mattermost stored the post, and lets Mattermost forget the
// pending_post_id: the retry finds the post by its key.
func TestCrashBetweenPostAndMarkDoesNotDoublePost(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w := e.worker(t, "w1")
		e.fake.Inject(mmfake.Fault{Method: "POST", PathPrefix: "/api/v4/posts", AfterHandling: true, Status: 502, Times: 1})
		r := e.create(t, "restart", 1)
		drain(t, w)
		if e.fake.PendingFaults() != 0 {
			t.Fatal("fault not hit")
		}
		e.fake.ForgetPendingPostIDs()
		e.clock.Advance(time.Minute)
		drain(t, w)
		if n := len(e.botPosts(e.channel.Id, r.ID)); n != 1 {
			t.Fatalf("request message posted %d times", n)
		}
		cp, _ := e.queue.ChatPost(context.Background(), r.ID)
		if cp.PostID == "" {
			t.Fatal("post id not recorded after the retry")
		}
	})
}

// TestTwoWorkersDoNotDoublePost races two workers (two stores on one
// database: two processes) over several requests.
func TestTwoWorkersDoNotDoublePost(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		w1 := e.worker(t, "w1")
		e2 := *e
		e2.store = b.Open(t)
		e2.queue = outbox.NewQueue(e2.store)
		w2 := e2.worker(t, "w2")
		var ids []string
		for range 4 {
			ids = append(ids, e.create(t, "restart", 1).ID)
		}
		var wg sync.WaitGroup
		for _, w := range []interface {
			Drain(context.Context) (int, error)
		}{w1, w2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := w.Drain(context.Background()); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		drain(t, w1)
		for _, id := range ids {
			e.wantPostedOnce(t, id)
		}
	})
}
