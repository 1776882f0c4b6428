package approval_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/storetest"
)

// TestListPagesWithoutGapsOrDuplicates creates requests that share creation
// times (a frozen clock) so the keyset's id tie-break is exercised.
func TestListPagesWithoutGapsOrDuplicates(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
		svc := newSvc(s, approval.Config{Now: func() time.Time { return now }})
		ids := map[string]bool{}
		for i := 0; i < 53; i++ {
			if i%10 == 0 {
				now = now.Add(time.Second)
			}
			in := humanRequest()
			if i%2 == 0 {
				in.Action = "scale"
			}
			r, err := svc.Create(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			ids[r.ID] = true
		}
		seen := map[string]bool{}
		var prev *models.Request
		after, pages := "", 0
		for {
			p, err := svc.List(ctx, approval.Filter{Limit: 10, After: after})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for i := range p.Items {
				it := p.Items[i]
				if seen[it.ID] {
					t.Fatalf("duplicate %s on page %d", it.ID, pages)
				}
				seen[it.ID] = true
				if prev != nil && (it.CreatedAt.After(prev.CreatedAt) || (it.CreatedAt.Equal(prev.CreatedAt) && it.ID > prev.ID)) {
					t.Fatalf("order broken: %s@%s after %s@%s", it.ID, it.CreatedAt, prev.ID, prev.CreatedAt)
				}
				prev = &it
			}
			if p.Next == "" {
				break
			}
			after = p.Next
		}
		if len(seen) != len(ids) || pages != 6 {
			t.Fatalf("saw %d of %d requests in %d pages", len(seen), len(ids), pages)
		}
		p, err := svc.List(ctx, approval.Filter{Action: "scale", Requester: "@Carol", Channel: "~incidents", States: []models.State{models.StatePending}, Limit: 100})
		if err != nil || len(p.Items) != 27 || p.Next != "" {
			t.Fatalf("filtered list: %d items, next %q, %v", len(p.Items), p.Next, err)
		}
		for _, bad := range []approval.Filter{{After: "garbage"}, {After: "zz.REQ"}, {States: []models.State{"open"}}, {Limit: -1}} {
			if _, err := svc.List(ctx, bad); !errors.Is(err, models.ErrInvalid) {
				t.Errorf("filter %+v: want ErrInvalid, got %v", bad, err)
			}
		}
	})
}

func TestListActionableFollowsTheRules(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
		svc := newSvc(s, approval.Config{Now: func() time.Time { return now }})
		human, _ := svc.Create(ctx, humanRequest())  // carol's
		agentReq, _ := svc.Create(ctx, newRequest()) // deploy-bot, sponsor dave
		short := humanRequest()
		short.TTL = time.Minute
		expiring, _ := svc.Create(ctx, short)
		decided, _ := svc.Create(ctx, humanRequest())
		if _, err := decide(svc, decided, aliceA, models.VerdictApprove, ""); err != nil {
			t.Fatal(err)
		}
		now = now.Add(2 * time.Minute) // expiring is past its TTL
		ids := func(a approval.Approver) map[string]bool {
			p, err := svc.ListActionable(ctx, a, approval.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]bool{}
			for _, r := range p.Items {
				out[r.ID] = true
			}
			return out
		}
		alice := ids(aliceA)
		if !alice[human.ID] || !alice[agentReq.ID] || alice[expiring.ID] || alice[decided.ID] || len(alice) != 2 {
			t.Fatalf("alice sees %v", alice)
		}
		carol := ids(carolA)
		if carol[human.ID] || carol[decided.ID] || !carol[agentReq.ID] {
			t.Fatalf("carol (requester) sees %v", carol)
		}
		dave := ids(daveA)
		if dave[agentReq.ID] || !dave[human.ID] {
			t.Fatalf("dave (sponsor) sees %v", dave)
		}
		if len(ids(viewer)) != 0 {
			t.Fatal("a person without an approver role sees actionable requests")
		}
		rows, err := svc.RecentDecisions(ctx, 10)
		if err != nil || len(rows) != 1 || rows[0].Action != "restart" || rows[0].ApproverID != "sub-alice" {
			t.Fatalf("recent decisions %+v %v", rows, err)
		}
		counts, err := svc.Counts(ctx)
		if err != nil || counts[models.StatePending] != 4 {
			t.Fatalf("counts %v %v", counts, err)
		}
	})
}

func TestFindByPost(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		svc := newSvc(s, approval.Config{})
		first, _ := svc.Create(ctx, newRequest()) // root p1, trigger p3
		in := humanRequest()
		in.Source.RootPostID, in.Source.TriggerPostID = "p3", "p9" // a later request rooted at p3
		second, _ := svc.Create(ctx, in)
		// Countersign's own posts: the request message and a decision
		// reply, as the outbox records them; and a post of later discussion.
		db := s.DB(ctx)
		mustExec := func(sql string, args ...any) {
			t.Helper()
			if err := db.Exec(sql, args...).Error; err != nil {
				t.Fatal(err)
			}
		}
		mustExec(`INSERT INTO request_chat_posts (request_id, post_id, channel_id, root_id, idem_key, created_at, updated_at) VALUES (?, 'bot-msg', 'c1', 'p1', 'k1', ?, ?)`, second.ID, time.Now(), time.Now())
		mustExec(`INSERT INTO outbox_messages (request_id, lane, kind, idem_key, state, next_attempt_us, post_id, created_at, updated_at)
			VALUES (?, 'thread', 'decision', 'k2', 'done', 0, 'bot-reply', ?, ?)`, first.ID, time.Now(), time.Now())
		mustExec(`INSERT INTO later_posts (request_id, post_id, author_id, author_kind, hash, recorded_at) VALUES (?, 'later-1', 'u-bob', 'human', 'h', ?)`, second.ID, time.Now())
		for post, want := range map[string]string{
			"p3": first.ID, "p1": first.ID, "p9": second.ID, // trigger and root
			"p2":      second.ID, // captured by both: the newest
			"later-1": second.ID, "bot-msg": second.ID, "bot-reply": first.ID,
		} {
			got, err := svc.FindByPost(ctx, post)
			if err != nil || got.ID != want {
				t.Errorf("FindByPost(%s) = %v, %v; want %s", post, got, err, want)
			}
		}
		for _, post := range []string{"", "nope"} {
			if _, err := svc.FindByPost(ctx, post); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("FindByPost(%q): %v, want ErrNotFound", post, err)
			}
		}
		// TriggeredBy answers only for the post that made a request: a
		// root, a captured post or Countersign's own message did not.
		for post, want := range map[string]string{"p3": first.ID, "p9": second.ID, "p1": "", "p2": "", "bot-msg": "", "": ""} {
			got, err := svc.TriggeredBy(ctx, post)
			switch {
			case want == "" && !errors.Is(err, models.ErrNotFound):
				t.Errorf("TriggeredBy(%q) = %v, %v; want ErrNotFound", post, got, err)
			case want != "" && (err != nil || got.ID != want):
				t.Errorf("TriggeredBy(%q) = %v, %v; want %s", post, got, err, want)
			}
		}
	})
}
