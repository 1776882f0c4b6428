package notify_test

import (
	"context"
	"strings"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/outbox"
	"github.com/countersign/countersign/web/mattermost"
)

// TestRecheckPostTellsVoidedApprovers is what happens when Mattermost
// announces an edit of a captured post (the WebSocket listener calls
// RecheckPost): the request's content hash moves at once, alice's
// approval of the old content stops counting, the thread gets one note
// naming her, and she gets one DM asking her to review again; bob, who
// had not decided, gets no such DM. Announcing the same edit again (a
// second replica, a reconnect reading it back) records and sends nothing
// more; a post no request captured touches nothing.
func TestRecheckPostTellsVoidedApprovers(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.create(t, "restart", 2)
		e.decide(t, r.ID, "alice", models.VerdictApprove)
		w := e.worker(t, "w1")
		drain(t, w)
		svc := approval.New(e.store, approval.Config{Now: e.clock.Now, ApproverRoles: []string{"approver"},
			Conversation: mattermost.NewRereader(e.client), Effects: approval.Effects{Chat: outbox.Hook{}}})

		if res, err := svc.RecheckPost(ctx, "nosuchpost00000000000000000"); err != nil || len(res.Requests) != 0 {
			t.Fatalf("uncaptured post: %+v, %v", res, err)
		}
		notesBefore := len(e.botPosts(e.channel.Id, r.ID))
		aliceDMs, bobDMs := len(e.dmPosts(t, "alice", r.ID)), len(e.dmPosts(t, "bob", r.ID))

		if err := e.fake.Edit(e.reply.Id, "WAIT, do not restart"); err != nil {
			t.Fatal(err)
		}
		res, err := svc.RecheckPost(ctx, e.reply.Id)
		if err != nil || len(res.Changed) != 1 || res.Changed[0] != r.ID || len(res.Unchecked) != 0 {
			t.Fatalf("recheck after edit: %+v, %v", res, err)
		}
		got, err := e.svc.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ContentHash == r.ContentHash || got.Tally().Approved() != 0 || len(got.Voided()) != 1 {
			t.Fatalf("after the edit: hash moved %v, approvals %d, voided %d", got.ContentHash != r.ContentHash, got.Tally().Approved(), len(got.Voided()))
		}
		drain(t, w)
		posts := e.botPosts(e.channel.Id, r.ID)
		var notes []string
		for _, p := range posts[notesBefore-1:] {
			if strings.Contains(p.Message, "was edited or deleted") {
				notes = append(notes, p.Message)
			}
		}
		if len(notes) != 1 || !strings.Contains(notes[0], "@\u200balice's approval no longer counts") || !strings.Contains(notes[0], "needs 2 more approvals") {
			t.Fatalf("thread notes after the edit: %q", notes)
		}
		dms := e.dmPosts(t, "alice", r.ID)
		if len(dms) != aliceDMs+1 || !strings.Contains(dms[len(dms)-1].Message, "Your approval of "+r.ID) || !strings.Contains(dms[len(dms)-1].Message, "no longer counts") {
			t.Fatalf("alice's DMs: %d (had %d), last %q", len(dms), aliceDMs, dms[len(dms)-1].Message)
		}
		if n := len(e.dmPosts(t, "bob", r.ID)); n != bobDMs {
			t.Fatalf("bob, who had not approved, got %d new DMs", n-bobDMs)
		}

		// Told once: the same announcement again changes nothing.
		res, err = svc.RecheckPost(ctx, e.reply.Id)
		if err != nil || len(res.Changed) != 0 || len(res.Requests) != 1 {
			t.Fatalf("second announcement: %+v, %v", res, err)
		}
		drain(t, w)
		if n := len(e.dmPosts(t, "alice", r.ID)); n != aliceDMs+1 {
			t.Fatalf("alice told %d times", n-aliceDMs)
		}
		if n := len(e.botPosts(e.channel.Id, r.ID)); n != len(posts) {
			t.Fatalf("%d more thread posts after a repeated announcement", n-len(posts))
		}
		// The audit event names whose approval stopped counting.
		var payload string
		if err := e.store.DB(ctx).Table("audit_events").Where("request_id = ? AND type = ?", r.ID, "request.content_changed").Pluck("payload", &payload).Error; err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(payload, `"voided_approvals"`) || !strings.Contains(payload, e.people["alice"].Id) {
			t.Fatalf("content_changed payload %s", payload)
		}
	})
}
