package execution_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/execution"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/models/grant/granttest"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/executor"
)

// fakeExecutor redeems the grant it is given (as a real executor must)
// and counts how often it actually ran the action.
type fakeExecutor struct {
	grants *grant.Service
	ran    atomic.Int32
	calls  atomic.Int32
	// before and after override the answer before redeeming / after
	// running; nil means go on / answer success.
	before func(call int32) (int, string)
	after  func(call int32) (int, string)
}

func (f *fakeExecutor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	call := f.calls.Add(1)
	var in executor.Request
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, "bad body", 400)
		return
	}
	if f.before != nil {
		if code, body := f.before(call); code != 0 {
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
			return
		}
	}
	hash, _ := grant.ParamsHashOf(in.Params)
	if _, err := f.grants.Redeem(r.Context(), in.Grant, hash, grant.ExecutorActor("deployer")); err != nil {
		w.WriteHeader(http.StatusConflict)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	f.ran.Add(1)
	if f.after != nil {
		if code, body := f.after(call); code != 0 {
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
			return
		}
	}
	_, _ = w.Write([]byte(`{"status":"succeeded","output":{"restarted":"payments-api","pods":3}}`))
}

type rig struct {
	env  *granttest.Env
	exec *execution.Service
	fake *fakeExecutor
	srv  *httptest.Server
}

func newRig(t *testing.T, store *models.Store, maxAttempts int) *rig {
	env := granttest.New(t, store, execution.Hook())
	f := &fakeExecutor{grants: env.Grants}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &rig{env: env, exec: execution.New(store, env.Approvals, env.Grants, env.Clock.Now), fake: f, srv: srv}
}

// newAgentRig returns a rig whose terms name no executor (the agent runs
// the action itself) and an approved request of the agent's.
func newAgentRig(t *testing.T, store *models.Store) (*rig, *models.Request) {
	rg := newRig(t, store, 3)
	rg.env.Terms.Executor = ""
	return rg, rg.env.Approved(t, granttest.Agent)
}

// approveAndRunTwice approves a human request and runs a dispatcher
// allowing maxAttempts twice, the backoff passing in between.
func (r *rig) approveAndRunTwice(t *testing.T, maxAttempts int) *models.Request {
	req := r.env.Approved(t, granttest.Human)
	d := r.dispatcher(maxAttempts)
	_, _ = d.RunOnce(context.Background())
	r.env.Clock.Advance(time.Second)
	_, _ = d.RunOnce(context.Background())
	return req
}

func (r *rig) dispatcher(maxAttempts int) *executor.Dispatcher {
	return executor.NewDispatcher(r.exec, executor.Config{
		Executors: map[string]executor.Executor{"deployer": {URL: r.srv.URL, Timeout: 5 * time.Second, MaxAttempts: maxAttempts}},
		Backoff:   time.Second, MaxBackoff: 4 * time.Second,
	})
}

func TestDispatchSucceedsAndKeepsTheApprovedContent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		rg := newRig(t, b.Open(t), 3)
		ctx := context.Background()
		r := rg.env.Approved(t, granttest.Human)
		n, err := rg.dispatcher(3).RunOnce(ctx)
		if err != nil || n != 1 {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		got, _ := rg.env.Approvals.Get(ctx, r.ID)
		if got.State != models.StateExecuted {
			t.Fatalf("request is %s", got.State)
		}
		if _, ok, _ := approval.VerifyContent(got); !ok || got.ContentHash != r.ContentHash {
			t.Fatal("recording the execution changed the approved content")
		}
		ex, err := rg.exec.Get(ctx, r.ID)
		if err != nil || ex.State != execution.StateSucceeded || ex.Attempts != 1 || ex.Output != `{"pods":3,"restarted":"payments-api"}` {
			t.Fatalf("execution %+v %v", ex, err)
		}
		if len(rg.env.Events(t, "execution.succeeded")) != 1 || len(rg.env.Events(t, "request.executed")) != 1 {
			t.Fatal("execution not audited")
		}
		if n, _ := rg.dispatcher(3).RunOnce(ctx); n != 0 || rg.fake.calls.Load() != 1 {
			t.Fatal("a finished execution was dispatched again")
		}
	})
}

func TestDispatchFailureAndRetriesNeverExecuteTwice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		t.Run("executor reports failure", func(t *testing.T) {
			rg := newRig(t, b.Open(t), 3)
			rg.fake.after = func(int32) (int, string) { return 200, `{"status":"failed","error":"disk full"}` }
			r := rg.env.Approved(t, granttest.Human)
			if _, err := rg.dispatcher(3).RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			ex, _ := rg.exec.Get(ctx, r.ID)
			if rg.env.State(t, r.ID) != models.StateFailed || ex.State != execution.StateFailed || ex.Error != "disk full" {
				t.Fatalf("request %s, execution %+v", rg.env.State(t, r.ID), ex)
			}
			if len(rg.env.Events(t, "execution.failed")) != 1 {
				t.Fatal("failure not audited")
			}
		})
		t.Run("transient error then success", func(t *testing.T) {
			rg := newRig(t, b.Open(t), 3)
			rg.fake.before = func(call int32) (int, string) {
				if call == 1 {
					return 503, "busy"
				}
				return 0, ""
			}
			r := rg.env.Approved(t, granttest.Human)
			d := rg.dispatcher(3)
			if _, err := d.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if rg.env.State(t, r.ID) != models.StateApproved {
				t.Fatal("a transient error ended the request")
			}
			if n, _ := d.RunOnce(ctx); n != 0 {
				t.Fatal("retried before the backoff passed")
			}
			rg.env.Clock.Advance(time.Second)
			if n, _ := d.RunOnce(ctx); n != 1 {
				t.Fatal("no retry after the backoff")
			}
			ex, _ := rg.exec.Get(ctx, r.ID)
			if rg.env.State(t, r.ID) != models.StateExecuted || ex.Attempts != 2 || rg.fake.ran.Load() != 1 {
				t.Fatalf("request %s, %+v, ran %d", rg.env.State(t, r.ID), ex, rg.fake.ran.Load())
			}
			if len(rg.env.Events(t, "execution.retry")) != 1 {
				t.Fatal("retry not audited")
			}
		})
		t.Run("answer lost after running: the retry cannot run it again", func(t *testing.T) {
			rg := newRig(t, b.Open(t), 5)
			rg.fake.after = func(int32) (int, string) { return 502, "gateway lost the answer" }
			r := rg.approveAndRunTwice(t, 5)
			if rg.fake.ran.Load() != 1 || rg.fake.calls.Load() != 2 {
				t.Fatalf("ran %d times in %d calls", rg.fake.ran.Load(), rg.fake.calls.Load())
			}
			ex, _ := rg.exec.Get(ctx, r.ID)
			if ex.State != execution.StateFailed || !strings.Contains(ex.Error, "refused with 409") || rg.env.State(t, r.ID) != models.StateFailed {
				t.Fatalf("execution %+v", ex)
			}
		})
		t.Run("gives up after max attempts", func(t *testing.T) {
			rg := newRig(t, b.Open(t), 2)
			rg.fake.before = func(int32) (int, string) { return 500, "" }
			r := rg.approveAndRunTwice(t, 2)
			ex, _ := rg.exec.Get(ctx, r.ID)
			if ex.State != execution.StateFailed || ex.Attempts != 2 || !strings.Contains(ex.Error, "gave up after 2 attempts") || rg.fake.ran.Load() != 0 {
				t.Fatalf("execution %+v", ex)
			}
		})
		t.Run("unconfigured executor", func(t *testing.T) {
			rg := newRig(t, b.Open(t), 2)
			rg.env.Terms.Executor = "nobody"
			r := rg.env.Approved(t, granttest.Human)
			_, _ = rg.dispatcher(2).RunOnce(ctx)
			ex, _ := rg.exec.Get(ctx, r.ID)
			if ex.State != execution.StateFailed || !strings.Contains(ex.Error, `"nobody" is not configured`) || rg.fake.calls.Load() != 0 {
				t.Fatalf("execution %+v", ex)
			}
		})
	})
}

func TestTwoReplicasDispatchOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		rg := newRig(t, b.Open(t), 3)
		other := execution.New(b.Open(t), rg.env.Approvals, rg.env.Grants, rg.env.Clock.Now)
		var ids []string
		for range 4 {
			ids = append(ids, rg.env.Approved(t, granttest.Human).ID)
		}
		d1 := rg.dispatcher(3)
		d2 := executor.NewDispatcher(other, executor.Config{Executors: map[string]executor.Executor{"deployer": {URL: rg.srv.URL}}})
		var wg sync.WaitGroup
		for _, d := range []*executor.Dispatcher{d1, d2, d1, d2} {
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = d.RunOnce(ctx) }()
		}
		wg.Wait()
		if rg.fake.calls.Load() != 4 || rg.fake.ran.Load() != 4 {
			t.Fatalf("%d calls for 4 requests", rg.fake.calls.Load())
		}
		for _, id := range ids {
			if s := rg.env.State(t, id); s != models.StateExecuted {
				t.Fatalf("%s is %s", id, s)
			}
		}
	})
}

func TestAgentReportsItsResult(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		rg, r := newAgentRig(t, b.Open(t))
		if n, _ := rg.dispatcher(3).RunOnce(ctx); n != 0 {
			t.Fatal("an agent's request was dispatched to a webhook")
		}
		res := execution.Result{Succeeded: true, Output: json.RawMessage(`{"rotated": true}`), StartedAt: granttest.Start, EndedAt: granttest.Start.Add(time.Second)}
		if _, err := rg.exec.RecordResult(ctx, r.ID, res, granttest.Agent); !errors.Is(err, execution.ErrNotRedeemed) {
			t.Fatalf("result before redeeming: %v", err)
		}
		rg.env.Redeem(t, r, granttest.Agent)
		if _, err := rg.exec.RecordResult(ctx, r.ID, res, granttest.OtherAgent); !errors.Is(err, models.ErrForbidden) {
			t.Fatalf("another agent's report: %v", err)
		}
		if _, err := rg.exec.RecordResult(ctx, r.ID, execution.Result{Output: json.RawMessage(`{bad`), StartedAt: res.StartedAt, EndedAt: res.EndedAt}, granttest.Agent); !errors.Is(err, models.ErrInvalid) {
			t.Fatalf("bad output: %v", err)
		}
		ex, err := rg.exec.RecordResult(ctx, r.ID, res, granttest.Agent)
		if err != nil || ex.Mode != execution.ModeAgent || ex.Output != `{"rotated":true}` {
			t.Fatalf("record: %+v %v", ex, err)
		}
		if rg.env.State(t, r.ID) != models.StateExecuted || len(rg.env.Events(t, "execution.succeeded")) != 1 {
			t.Fatal("agent result did not end the request")
		}
		if _, err := rg.exec.RecordResult(ctx, r.ID, res, granttest.Agent); !errors.Is(err, models.ErrConflict) {
			t.Fatalf("second report: %v", err)
		}
	})
}

func TestCredentials(t *testing.T) {
	c := execution.NewCredentials(map[string]string{"deployer": "s3cret-token", "backup": "other-token", "off": ""})
	if name, ok := c.Authenticate("s3cret-token"); !ok || name != "deployer" {
		t.Fatalf("got %q %v", name, ok)
	}
	for _, bad := range []string{"", "s3cret-tokeN", "s3cret-token ", "x"} {
		if _, ok := c.Authenticate(bad); ok {
			t.Fatalf("%q authenticated", bad)
		}
	}
}
