package execution_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/execution"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/models/grant/granttest"
	"github.com/countersign/countersign/models/storetest"
)

// redeemed approves an agent's request and redeems its grant as the agent.
func redeemed(t *testing.T, rg *rig) *models.Request {
	t.Helper()
	return rg.env.Redeemed(t, granttest.Agent)
}

func ran(ok bool) execution.Result {
	return execution.Result{Succeeded: ok, StartedAt: granttest.Start.Add(time.Second), EndedAt: granttest.Start.Add(3 * time.Second)}
}

func TestAgentReportIsValidatedBeforeAnythingIsStored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		rg := newRig(t, b.Open(t), 3)
		rg.env.Terms.Executor = ""
		r := redeemed(t, rg)
		digest := "sha256:" + strings.Repeat("ab", 32)
		with := func(f func(*execution.Result)) execution.Result { res := ran(true); f(&res); return res }
		cases := []struct {
			name  string
			res   execution.Result
			field string
		}{
			{"output and digest", with(func(x *execution.Result) { x.Output, x.OutputDigest = json.RawMessage(`{"a":1}`), digest }), "output_digest"},
			{"bad digest", with(func(x *execution.Result) { x.OutputDigest = "md5" }), "output_digest"},
			{"output not JSON", with(func(x *execution.Result) { x.Output = json.RawMessage(`{a`) }), "output"},
			{"output too large", with(func(x *execution.Result) {
				x.Output = json.RawMessage(`"` + strings.Repeat("x", execution.MaxOutputBytes) + `"`)
			}), "output"},
			{"no start", with(func(x *execution.Result) { x.StartedAt = time.Time{} }), "started_at"},
			{"no end", with(func(x *execution.Result) { x.EndedAt = time.Time{} }), "ended_at"},
			{"ends before it starts", with(func(x *execution.Result) { x.EndedAt = x.StartedAt.Add(-time.Second) }), "ended_at"},
			{"ends in the future", with(func(x *execution.Result) { x.EndedAt = granttest.Start.Add(time.Hour) }), "ended_at"},
		}
		for _, tc := range cases {
			_, err := rg.exec.RecordResult(ctx, r.ID, tc.res, granttest.Agent)
			var ve *models.ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Errorf("%s: %v, want invalid %s", tc.name, err, tc.field)
			}
		}
		if _, err := rg.exec.Get(ctx, r.ID); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("bad reports stored an execution: %v", err)
		}
		if rg.env.State(t, r.ID) != models.StateApproved || len(rg.env.Events(t, "execution.refused")) != 0 {
			t.Fatal("bad input changed the request or was audited as a refusal")
		}
		// Within the tolerated skew a report from a fast clock is taken.
		ok := with(func(x *execution.Result) {
			x.OutputDigest = digest
			x.EndedAt = granttest.Start.Add(execution.MaxClockSkew - time.Second)
		})
		e, err := rg.exec.RecordResult(ctx, r.ID, ok, granttest.Agent)
		if err != nil || e.OutputDigest != digest || e.Output != "" || !e.StartedAt.Equal(ok.StartedAt) || !e.EndedAt.Equal(ok.EndedAt) {
			t.Fatalf("digest report: %+v %v", e, err)
		}
		stored, err := rg.exec.Get(ctx, r.ID)
		if err != nil || stored.OutputDigest != digest || stored.StartedAt == nil || !stored.StartedAt.Equal(ok.StartedAt) {
			t.Fatalf("stored %+v %v", stored, err)
		}
		ev := rg.env.Events(t, "execution.succeeded")
		if len(ev) != 1 || !strings.Contains(ev[0].Payload, digest) || !strings.Contains(ev[0].Payload, `"started_at"`) {
			t.Fatalf("audit %+v", ev)
		}
	})
}

func TestAgentReportRefusalsAreAudited(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		rg, r := newAgentRig(t, b.Open(t))
		reasons := func() []string {
			var out []string
			for _, ev := range rg.env.Events(t, "execution.refused") {
				var p struct{ Reason string }
				_ = json.Unmarshal([]byte(ev.Payload), &p)
				out = append(out, ev.ActorID+":"+p.Reason)
			}
			return out
		}
		if _, err := rg.exec.RecordResult(ctx, r.ID, ran(true), granttest.Agent); !errors.Is(err, execution.ErrNotRedeemed) {
			t.Fatalf("before redeeming: %v", err)
		}
		rg.env.Redeem(t, r, granttest.Agent)
		if _, err := rg.exec.RecordResult(ctx, r.ID, ran(true), granttest.OtherAgent); !errors.Is(err, execution.ErrNotRequester) || !errors.Is(err, models.ErrForbidden) {
			t.Fatalf("another agent: %v", err)
		}
		if _, err := rg.exec.RecordResult(ctx, r.ID, ran(true), grant.ExecutorActor("deployer")); !errors.Is(err, models.ErrForbidden) {
			t.Fatalf("an executor through the agent path: %v", err)
		}
		if _, err := rg.exec.RecordResult(ctx, "REQ-9999999999", ran(true), granttest.Agent); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("unknown request: %v", err)
		}
		res := ran(false)
		res.Error = "the pod did not come back"
		e, err := rg.exec.RecordResult(ctx, r.ID, res, granttest.Agent)
		if err != nil || e.State != execution.StateFailed {
			t.Fatalf("failure report: %+v %v", e, err)
		}
		if rg.env.State(t, r.ID) != models.StateFailed || len(rg.env.Events(t, "execution.failed")) != 1 {
			t.Fatal("a failure report did not end the request failed")
		}
		if _, err := rg.exec.RecordResult(ctx, r.ID, ran(true), granttest.Agent); !errors.Is(err, execution.ErrAlreadyReported) {
			t.Fatalf("second report: %v", err)
		}
		want := []string{
			granttest.Agent.ID + ":not_redeemed", granttest.OtherAgent.ID + ":not_requester", "executor:deployer:not_requester",
			granttest.Agent.ID + ":already_reported",
		}
		if got := reasons(); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("refusals audited %v, want %v", got, want)
		}
	})
}
