package approval_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/audittest"
	"github.com/countersign/countersign/models/storetest"
)

var (
	carol = models.Actor{Type: models.ActorHuman, ID: "u-carol", Display: "carol"}
	agent = models.Actor{Type: models.ActorAgent, ID: "b-deploy", Display: "deploy-bot", SponsorID: "u-dave", SponsorName: "dave"}
	alice = models.Actor{Type: models.ActorHuman, ID: "u-alice", Display: "alice"}
)

func newRequest() approval.NewRequest {
	t0 := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	return approval.NewRequest{
		Kind: models.KindAction, Action: "restart", Params: map[string]any{"service": "payments-api", "env": "prod"},
		Purpose: "OOM loop, INC-4211", Requester: agent,
		Source: models.Source{TeamID: "t1", TeamName: "ops", ChannelID: "c1", ChannelName: "incidents", RootPostID: "p1", TriggerPostID: "p3"},
		Posts: []models.ConversationPost{
			{PostSnapshot: models.PostSnapshot{PostID: "p1", AuthorID: "u-carol", AuthorName: "carol", AuthorKind: models.AuthorHuman, ChannelMember: true, Message: "payments keeps dying", CreateAt: 1}},
			{PostSnapshot: models.PostSnapshot{PostID: "p2", RootID: "p1", AuthorID: "u-carol", AuthorName: "carol", AuthorKind: models.AuthorWebhook, FromWebhook: true, OverrideUsername: "alice", ChannelMember: true, Message: "approved, go ahead", CreateAt: 2}},
			{PostSnapshot: models.PostSnapshot{PostID: "p3", RootID: "p1", AuthorID: "b-deploy", AuthorName: "deploy-bot", AuthorKind: models.AuthorBot, BotOwnerID: "u-dave", ChannelMember: true, Message: "Proposal: restart payments-api", CreateAt: 3}},
		},
		ToolCalls: []models.ToolCall{
			{CallID: "c1", Tool: "metrics.query", Input: `{"q": "oom"}`, Output: `{"kills": 12}`, Status: models.ToolCallOK, StartedAt: t0, EndedAt: t0.Add(time.Second)},
			{CallID: "c2", ParentID: "c1", Tool: "k8s.logs", Input: `{"pod":"payments-1"}`, OutputDigest: "sha256:00ff", Status: models.ToolCallOK, StartedAt: t0, EndedAt: t0.Add(2 * time.Second)},
		},
		TTL: time.Hour, RequiredApprovals: 2, PolicyRef: "default",
	}
}

// create stores in with svc, failing t if it cannot.
func create(t *testing.T, svc *approval.Service, in approval.NewRequest) *models.Request {
	t.Helper()
	r, err := svc.Create(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCreateStoresEverythingWithOneAuditEvent(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		svc := approval.New(s, approval.Config{})
		req, err := svc.Create(context.Background(), newRequest())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(req.ID, "REQ-") || req.State != models.StatePending || len(req.ContentHash) != 64 {
			t.Fatalf("created %+v", req)
		}
		got, err := svc.Get(context.Background(), req.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Posts) != 3 || len(got.ToolCalls) != 2 || got.Posts[1].OverrideUsername != "alice" || got.ToolCalls[1].ParentID != "c1" {
			t.Fatalf("stored request lost parts: %+v", got)
		}
		if got.Params != `{"env":"prod","service":"payments-api"}` || got.ToolCalls[0].Input != `{"q":"oom"}` {
			t.Fatalf("JSON not stored canonically: %s / %s", got.Params, got.ToolCalls[0].Input)
		}
		// The stored rows hash back to the same content on this backend.
		h, ok, err := approval.VerifyContent(got)
		if err != nil || !ok {
			t.Fatalf("content hash after reload %s, stored %s (%v)", h, got.ContentHash, err)
		}
		evs := audittest.Events(t, s)
		if len(evs) != 1 || evs[0].Type != "request.created" || evs[0].RequestID != req.ID || evs[0].ActorID != "b-deploy" || evs[0].Purpose != req.Purpose {
			t.Fatalf("audit events %+v", evs)
		}
		if !strings.Contains(evs[0].Payload, req.ContentHash) {
			t.Fatalf("audit payload lacks content hash: %s", evs[0].Payload)
		}
	})
}

func TestContentHashIsTheSameOnBothBackends(t *testing.T) {
	var hashes []string
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		req, err := approval.New(b.Open(t), approval.Config{}).Create(context.Background(), newRequest())
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, req.ContentHash)
	})
	for _, h := range hashes[1:] {
		if h != hashes[0] {
			t.Fatalf("content hash differs across backends: %v", hashes)
		}
	}
}

func TestCreateRejectsBadInputAndStoresNothing(t *testing.T) {
	s := storetest.SQLite(t).Open(t)
	svc := approval.New(s, approval.Config{})
	cases := map[string]func(*approval.NewRequest){
		"bad action":        func(r *approval.NewRequest) { r.Action = "Restart Everything" },
		"bad kind":          func(r *approval.NewRequest) { r.Kind = "magic" },
		"agent w/o sponsor": func(r *approval.NewRequest) { r.Requester.SponsorID = "" },
		"system requester":  func(r *approval.NewRequest) { r.Requester = models.SystemActor("x") },
		"no ttl":            func(r *approval.NewRequest) { r.TTL = 0 },
		"zero approvals":    func(r *approval.NewRequest) { r.RequiredApprovals = 0 },
		"long purpose":      func(r *approval.NewRequest) { r.Purpose = strings.Repeat("x", models.MaxPurposeLen+1) },
		"post w/o author":   func(r *approval.NewRequest) { r.Posts[0].AuthorID = "" },
		"post bad kind":     func(r *approval.NewRequest) { r.Posts[0].AuthorKind = "ghost" },
		"tool bad json":     func(r *approval.NewRequest) { r.ToolCalls[0].Input = `{"q":` },
		"tool bad output":   func(r *approval.NewRequest) { r.ToolCalls[0].Output = `not json` },
		"tool dup id":       func(r *approval.NewRequest) { r.ToolCalls[1].CallID = "c1" },
		"tool bad parent":   func(r *approval.NewRequest) { r.ToolCalls[1].ParentID = "c9" },
		"tool bad status":   func(r *approval.NewRequest) { r.ToolCalls[0].Status = "meh" },
		"tool time reversed": func(r *approval.NewRequest) {
			r.ToolCalls[0].EndedAt = r.ToolCalls[0].StartedAt.Add(-time.Second)
		},
		"param not json": func(r *approval.NewRequest) { r.Params = map[string]any{"ch": make(chan int)} },
	}
	for name, mutate := range cases {
		in := newRequest()
		mutate(&in)
		_, err := svc.Create(context.Background(), in)
		var ve *models.ValidationError
		if !errors.Is(err, models.ErrInvalid) || !errors.As(err, &ve) || ve.Field == "" {
			t.Errorf("%s: want a ValidationError naming the field, got %v", name, err)
		}
	}
	var n int64
	s.DB(context.Background()).Model(&models.Request{}).Count(&n)
	if n != 0 || len(audittest.Events(t, s)) != 0 {
		t.Fatalf("bad input left %d requests and %d events", n, len(audittest.Events(t, s)))
	}
}

func TestMoveFollowsTheLifecycle(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		svc := approval.New(s, approval.Config{})
		ctx := context.Background()
		req := create(t, svc, newRequest())
		// Illegal: pending → executed. Nothing changes, nothing is audited.
		_, err := svc.Move(ctx, approval.Transition{ID: req.ID, From: models.StatePending, To: models.StateExecuted, Actor: alice})
		if !errors.Is(err, models.ErrIllegalTransition) {
			t.Fatalf("pending→executed: want ErrIllegalTransition, got %v", err)
		}
		moved, err := svc.Move(ctx, approval.Transition{ID: req.ID, From: models.StatePending, To: models.StateApproved, Actor: alice, Reason: "2 of 2"})
		if err != nil {
			t.Fatal(err)
		}
		if moved.State != models.StateApproved || moved.Version != 2 {
			t.Fatalf("after approve: %s v%d", moved.State, moved.Version)
		}
		// Stale: a second writer still believing "pending".
		_, err = svc.Move(ctx, approval.Transition{ID: req.ID, From: models.StatePending, To: models.StateCancelled, Actor: carol})
		if !errors.Is(err, models.ErrConflict) {
			t.Fatalf("stale move: want ErrConflict, got %v", err)
		}
		if _, err := svc.Move(ctx, approval.Transition{ID: req.ID, From: models.StateApproved, To: models.StateExecuted, Actor: models.SystemActor("executor")}); err != nil {
			t.Fatal(err)
		}
		// Terminal.
		_, err = svc.Move(ctx, approval.Transition{ID: req.ID, From: models.StateExecuted, To: models.StateFailed, Actor: alice})
		if !errors.Is(err, models.ErrIllegalTransition) {
			t.Fatalf("executed→failed: want ErrIllegalTransition, got %v", err)
		}
		_, err = svc.Move(ctx, approval.Transition{ID: "REQ-NOPE", From: models.StatePending, To: models.StateDenied, Actor: alice})
		if !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("unknown id: want ErrNotFound, got %v", err)
		}
		got, _ := svc.Get(ctx, req.ID)
		if got.State != models.StateExecuted || got.Version != 3 {
			t.Fatalf("final %s v%d", got.State, got.Version)
		}
		types := audittest.Types(audittest.Events(t, s))
		if strings.Join(types, ",") != "request.created,request.approved,request.executed" {
			t.Fatalf("audit trail %v", types)
		}
	})
}

// injectAuditFailure makes the database itself refuse audit inserts (a
// trigger that raises), so the real append path fails as it would on a full
// disk or a broken constraint. The returned func removes the fault.
func injectAuditFailure(t *testing.T, s *models.Store) func() {
	t.Helper()
	db := s.DB(context.Background())
	var err error
	if s.Dialect() == models.DialectPostgres {
		err = db.Exec(`CREATE FUNCTION fail_audit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected: disk full'; END $$ LANGUAGE plpgsql;
CREATE TRIGGER fail_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION fail_audit();`).Error
	} else {
		err = db.Exec(`CREATE TRIGGER fail_audit BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'injected: disk full'); END;`).Error
	}
	if err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := db.Exec(`DROP TRIGGER fail_audit` + map[bool]string{true: " ON audit_events", false: ""}[s.Dialect() == models.DialectPostgres]).Error; err != nil {
			t.Fatal(err)
		}
	}
}

// TestFailedAuditRollsBackTheChange makes the audit insert fail inside the
// database and checks that the change it would have recorded is gone too.
func TestFailedAuditRollsBackTheChange(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		svc := approval.New(s, approval.Config{})
		ctx := context.Background()
		req := create(t, svc, newRequest())
		clear := injectAuditFailure(t, s)
		_, err := svc.Move(ctx, approval.Transition{ID: req.ID, From: models.StatePending, To: models.StateDenied, Actor: alice, Reason: "no"})
		if !errors.Is(err, models.ErrAudit) || !strings.Contains(err.Error(), "injected: disk full") {
			t.Fatalf("want ErrAudit wrapping the injected failure, got %v", err)
		}
		got, _ := svc.Get(ctx, req.ID)
		if got.State != models.StatePending || got.Version != 1 {
			t.Fatalf("change survived a failed audit append: %s v%d", got.State, got.Version)
		}
		_, err = svc.Create(ctx, newRequest())
		if !errors.Is(err, models.ErrAudit) {
			t.Fatalf("create: want ErrAudit, got %v", err)
		}
		var n, posts int64
		s.DB(ctx).Model(&models.Request{}).Count(&n)
		s.DB(ctx).Model(&models.ConversationPost{}).Count(&posts)
		if n != 1 || posts != 3 {
			t.Fatalf("failed create left rows behind: %d requests, %d posts", n, posts)
		}
		clear()
		if _, err := svc.Move(ctx, approval.Transition{ID: req.ID, From: models.StatePending, To: models.StateDenied, Actor: alice}); err != nil {
			t.Fatalf("after the fault cleared: %v", err)
		}
		db, _ := s.SQL()
		rep, err := audit.Verify(ctx, db)
		if err != nil || rep.Problem != nil || rep.Events != 2 {
			t.Fatalf("chain after fault: %+v %v", rep, err)
		}
	})
}

// raceOnTwoStores makes n calls at once, call i on s1 when i is even and
// on s2 when it is odd (two processes' worth of connections), and returns
// how many returned nil and how many an error that is refused; any other
// error fails t.
func raceOnTwoStores(t *testing.T, s1, s2 *models.Store, n int, refused error, call func(i int, s *models.Store) error) (ok, refusals int) {
	t.Helper()
	errs := make([]error, n)
	storetest.Race(n, func(i int) {
		s := s1
		if i%2 == 1 {
			s = s2
		}
		errs[i] = call(i, s)
	})
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, refused):
			refusals++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	return ok, refusals
}

// TestConcurrentMovesProduceOneTransition races many writers for the same
// pending request: exactly one wins, the rest get ErrConflict.
func TestConcurrentMovesProduceOneTransition(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		s1, s2 := b.Open(t), b.Open(t)
		ctx := context.Background()
		req, err := approval.New(s1, approval.Config{}).Create(ctx, newRequest())
		if err != nil {
			t.Fatal(err)
		}
		wins, conflicts := raceOnTwoStores(t, s1, s2, 16, models.ErrConflict, func(i int, s *models.Store) error {
			to := models.StateApproved
			if i%3 == 0 {
				to = models.StateCancelled
			}
			_, err := approval.New(s, approval.Config{}).Move(ctx, approval.Transition{ID: req.ID, From: models.StatePending, To: to, Actor: alice})
			return err
		})
		if wins != 1 || conflicts != 15 {
			t.Fatalf("wins=%d conflicts=%d; want exactly one transition", wins, conflicts)
		}
		if evs := audittest.Events(t, s1); len(evs) != 2 {
			t.Fatalf("want 2 audit events, got %d", len(evs))
		}
	})
}
