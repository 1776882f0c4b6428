package notify_test

import (
	"context"
	"errors"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/web/mattermost"
)

// TestRecheckAtDecisionTime prepares decisions through the approval
// service reading the conversation again with the Mattermost adapter. It
// edits one captured post and deletes another after an approval: the
// content hash moves (the prepared decision on the old content is refused
// as changed), the earlier approval stops counting, the revisions are
// stored; a post added later is stored as later discussion and does not
// change the hash; Countersign's own posts are left out; an unreachable
// Mattermost leaves everything as captured and says the chat was not
// checked.
func TestRecheckAtDecisionTime(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		aliceReply := e.fake.Reply(e.root.Id, e.people["alice"].Id, "fine by me")
		r := e.create(t, "restart", 2)
		drain(t, e.worker(t, "w1")) // Countersign's own message lands in the thread
		e.decide(t, r.ID, "alice", models.VerdictApprove)
		bob := approval.Approver{Actor: models.Actor{Type: models.ActorHuman, ID: e.people["bob"].Id, Display: "bob"}, Username: "bob", Roles: []string{"approver"}}
		svc := approval.New(e.store, approval.Config{Now: e.clock.Now, ApproverRoles: []string{"approver"}, Conversation: mattermost.NewRereader(e.client)})
		laterCount := func() int {
			later, err := svc.LaterDiscussion(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			return len(later)
		}

		prep, err := svc.PrepareDecision(ctx, bob, r.ID, r.ContentHash)
		if err != nil || prep.ChatUnchecked || prep.Request.ContentHash != r.ContentHash || laterCount() != 0 {
			t.Fatalf("untouched thread: %+v, %v (Countersign's posts must not count as discussion)", prep, err)
		}

		if err := e.fake.Edit(e.reply.Id, "WAIT, do not restart"); err != nil {
			t.Fatal(err)
		}
		if err := e.fake.Delete(aliceReply.Id, e.people["alice"].Id); err != nil {
			t.Fatal(err)
		}
		e.fake.Reply(e.root.Id, e.people["dave"].Id, "later: <b>note</b>")
		if _, err = svc.PrepareDecision(ctx, bob, r.ID, r.ContentHash); !errors.Is(err, approval.ErrContentChanged) {
			t.Fatalf("after edit and delete: %v, want the content changed", err)
		}
		got, err := e.svc.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ContentHash == r.ContentHash {
			t.Fatal("content hash did not change")
		}
		if _, ok, _ := approval.VerifyContent(got); !ok {
			t.Fatal("stored content does not hash to the new hash")
		}
		revs, err := e.svc.Revisions(ctx, r.ID)
		if err != nil || len(revs) != 2 {
			t.Fatalf("revisions %+v, %v", revs, err)
		}
		byPost := map[string]models.PostRevision{}
		for _, v := range revs {
			byPost[v.PostID] = v
			if v.OldContentHash != r.ContentHash || v.NewContentHash != got.ContentHash {
				t.Fatalf("revision hashes %+v", v)
			}
		}
		if v := byPost[e.reply.Id]; v.Deleted || v.OldMessage != "heap dump attached, go ahead" || v.NewMessage != "WAIT, do not restart" || v.OldHash == v.NewHash {
			t.Fatalf("edit revision %+v", v)
		}
		if v := byPost[aliceReply.Id]; !v.Deleted || v.OldMessage != "fine by me" {
			t.Fatalf("delete revision %+v", v)
		}
		later, err := e.svc.LaterDiscussion(ctx, r.ID)
		if err != nil || len(later) != 1 || later[0].Message != "later: <b>note</b>" {
			t.Fatalf("later discussion %+v, %v", later, err)
		}
		var audited int64
		e.store.DB(ctx).Table("audit_events").Where("request_id = ? AND type = ?", r.ID, "request.content_changed").Count(&audited)
		if audited != 1 {
			t.Fatalf("content change audited %d times", audited)
		}

		// Alice's approval was bound to the old hash: bob's approval is
		// now the only one, so a 2-approval request stays pending.
		out := e.decide(t, r.ID, "bob", models.VerdictApprove)
		if out.Approvals != 1 || out.Transitioned {
			t.Fatalf("earlier approval still counts: %+v", out)
		}

		// Reading again finds nothing new; later discussion is not hashed.
		// (Dave, another approver, prepares: bob has decided already.)
		dave := approval.Approver{Actor: models.Actor{Type: models.ActorHuman, ID: e.people["dave"].Id, Display: "dave"}, Username: "dave", Roles: []string{"approver"}}
		before, _ := e.svc.Get(ctx, r.ID)
		e.fake.Reply(e.root.Id, e.people["dave"].Id, "more talk")
		prep, err = svc.PrepareDecision(ctx, dave, r.ID, before.ContentHash)
		if err != nil || prep.ChatUnchecked || prep.Request.ContentHash != before.ContentHash || laterCount() != 2 {
			t.Fatalf("later posts changed the content: %+v, %v", prep, err)
		}

		// Mattermost down: decide on the capture, say so.
		e.fake.FailNext(20, 503)
		prep, err = svc.PrepareDecision(ctx, dave, r.ID, before.ContentHash)
		if err != nil || !prep.ChatUnchecked || prep.Request.ContentHash != before.ContentHash {
			t.Fatalf("outage: %+v, %v", prep, err)
		}
	})
}
