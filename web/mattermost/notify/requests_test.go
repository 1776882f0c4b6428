package notify_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/outbox"
	"github.com/countersign/countersign/web/mattermost/notify"
)

// vote is one approver's verdict.
type vote struct {
	who string
	v   models.Verdict
}

// createDecided opens a restart request needing three approvals and
// records votes on it in order.
func (e *env) createDecided(t *testing.T, votes ...vote) *models.Request {
	t.Helper()
	r := e.create(t, "restart", 3)
	for _, v := range votes {
		e.decide(t, r.ID, v.who, v.v)
	}
	return r
}

// The worker's loader gives what the approval service gives, minus the
// captured conversation and tool chain (which no message shows), with the
// decisions in order; an unknown id is models.ErrNotFound.
func TestQueueLoaderHasWhatMessagesNeed(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.createDecided(t, vote{"bob", models.VerdictApprove}, vote{"alice", models.VerdictApprove})
		want, err := e.svc.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.queue.Requests().Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(want.Posts) == 0 || len(got.Posts) != 0 {
			t.Fatalf("posts: service %d, loader %d (want the loader to leave them out)", len(want.Posts), len(got.Posts))
		}
		if got.State != want.State || got.ContentHash != want.ContentHash || got.RequesterID != want.RequesterID || got.Purpose != want.Purpose || !got.ExpiresAt.Equal(want.ExpiresAt) {
			t.Fatalf("loader %+v\nservice %+v", got, want)
		}
		if len(got.Decisions) != 2 || got.Decisions[0].ID != want.Decisions[0].ID || got.Decisions[1].ID != want.Decisions[1].ID || got.Decisions[0].ID > got.Decisions[1].ID {
			t.Fatalf("decisions %+v, want %+v in order", got.Decisions, want.Decisions)
		}
		e.fake.ResetRequests()
		w := e.worker(t, "w1")
		drain(t, w)
		if n := len(e.botPosts(e.channel.Id, r.ID)); n != 3 {
			t.Fatalf("%d posts rendered from the loader, want the message and two replies", n)
		}
		if _, err := e.queue.Requests().Get(ctx, "REQ-NOPE"); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("unknown request: %v", err)
		}
	})
}

// The messages loaded without decisions (outbox.Kind.ShowsDecisions
// false) read the same with and without them: if a renderer starts using
// decisions, this fails and the kind must load them.
func TestMessagesLoadedWithoutDecisionsDoNotShowThem(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.createDecided(t, vote{"alice", models.VerdictApprove}, vote{"bob", models.VerdictDeny})
		full, err := e.queue.Requests().Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		lean, err := e.queue.Requests().GetWithoutDecisions(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(full.Decisions) != 2 || len(lean.Decisions) != 0 || lean.State != full.State || lean.ContentHash != full.ContentHash {
			t.Fatalf("full %d decisions, lean %d; states %s/%s", len(full.Decisions), len(lean.Decisions), full.State, lean.State)
		}
		rn := notify.Renderer{PublicURL: publicURL}
		for _, k := range []outbox.Kind{outbox.KindNotifyApprovers, outbox.KindApproverDM, outbox.KindOutcomeDM} {
			if k.ShowsDecisions() {
				t.Fatalf("%s: expected to be loaded without decisions", k)
			}
		}
		if rn.ApproverDM(full) != rn.ApproverDM(lean) {
			t.Error("the approver DM changes with decisions")
		}
		p := outbox.Payload{State: "denied", Actor: "bob", Reason: "not now"}
		if rn.OutcomeDM(full, p) != rn.OutcomeDM(lean, p) {
			t.Error("the outcome DM changes with decisions")
		}
		dir := notify.PolicyApprovers{Static: []string{"alice", "dave"}, DefaultRoles: []string{"approver"}}
		a, err1 := dir.ApproverUsernames(ctx, full)
		c, err2 := dir.ApproverUsernames(ctx, lean)
		if err1 != nil || err2 != nil || fmt.Sprint(a) != fmt.Sprint(c) {
			t.Errorf("approvers to notify change with decisions: %v %v (%v %v)", a, c, err1, err2)
		}
		for _, k := range []outbox.Kind{outbox.KindRequestPost, outbox.KindDecisionReply, outbox.KindThreadNote, outbox.KindReminderDM, outbox.KindEscalationDM, outbox.KindRemindApprovers, outbox.KindEscalate} {
			if !k.ShowsDecisions() {
				t.Errorf("%s must be loaded with its decisions", k)
			}
		}
	})
}
