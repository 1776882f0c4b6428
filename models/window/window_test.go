package window_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit/audittest"
	"github.com/countersign/countersign/models/policy"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/models/window"
)

const windowPolicy = `version: 1
roles:
  sre: {}
  leads: {}
windows:
  - {name: prod, max_duration: 4h}
  - {name: freeze-exempt, max_duration: 30m}
actions:
  - name: deploy
    params: [{name: env, required: true, allowed: [prod]}]
rules:
  - name: exempt-windows-auto
    when: request.action == "window.open" && request.params.window == "freeze-exempt"
    auto_approve: {}
  - name: windows-need-a-lead
    when: request.action == "window.open"
    require: {approvals: 1, roles: [leads]}
  - name: prod-inside-window
    when: request.params.env == "prod"
    require: {approvals: 1, roles: [sre], window: prod}
  - name: prod-outside
    when: request.params.env == "prod"
    deny: prod deploys need an open change window
`

type fixedPolicy struct{ p *policy.Policy }

func (f fixedPolicy) Current() *policy.Policy { return f.p }

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

var (
	carol = models.Actor{Type: models.ActorHuman, ID: "u-carol", Display: "carol"}
	lead  = approval.Approver{Actor: models.Actor{Type: models.ActorHuman, ID: "sub-erin", Display: "erin"}, Username: "erin", Roles: []string{"leads"}}
	src   = models.Source{TeamName: "ops", ChannelName: "releases"}
)

type fixture struct {
	s         *models.Store
	clk       *clock
	approvals *approval.Service
	windows   *window.Service
}

func setup(t *testing.T, b storetest.Backend) *fixture {
	p, err := policy.Parse("policy.yaml", []byte(windowPolicy))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{s: b.Open(t), clk: &clock{t: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}}
	f.windows = window.New(f.s, f.clk.now)
	f.approvals = approval.New(f.s, approval.Config{
		Policy: fixedPolicy{p}, Windows: f.windows, Effects: approval.Effects{Window: f.windows.Hook()}, Now: f.clk.now,
	})
	return f
}

func (f *fixture) deploy(t *testing.T) *approval.Submitted {
	t.Helper()
	sub, err := f.approvals.Submit(context.Background(), approval.NewRequest{
		Kind: models.KindAction, Action: "deploy", Params: map[string]any{"env": "prod"}, Requester: carol, Source: src,
	}, []string{"sre"})
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

func TestWindowOpensWhenItsRequestIsApprovedAndGatesRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		if got := f.deploy(t); got.Outcome.Rule != "prod-outside" || got.Request.State != models.StateDenied {
			t.Fatalf("before the window: %s %s", got.Outcome.Rule, got.Request.State)
		}
		sub, err := window.RequestOpen(ctx, f.approvals, "prod", "2h", "release 4.2", carol, src, []string{"sre"})
		if err != nil {
			t.Fatal(err)
		}
		if sub.Request.Kind != models.KindWindow || sub.Request.State != models.StatePending || sub.Outcome.Rule != "windows-need-a-lead" {
			t.Fatalf("window request %+v by %s", sub.Request, sub.Outcome.Rule)
		}
		if open, _ := f.windows.OpenWindowNames(ctx, f.clk.t); len(open) != 0 {
			t.Fatalf("open before approval: %v", open)
		}
		f.clk.t = f.clk.t.Add(time.Minute)
		out, err := f.approvals.Decide(ctx, approval.Decision{
			RequestID: sub.Request.ID, Approver: lead, Verdict: models.VerdictApprove, ContentHash: sub.Request.ContentHash,
			StepUp: approval.StepUp{AuthTime: f.clk.t},
		})
		if err != nil || out.Request.State != models.StateApproved {
			t.Fatalf("approve window: %v %+v", err, out)
		}
		ws, err := f.windows.Open(ctx)
		if err != nil || len(ws) != 1 {
			t.Fatalf("open windows %v %v", ws, err)
		}
		w := ws[0]
		if w.Name != "prod" || w.RequestID != sub.Request.ID || w.OpenedBy != "u-carol" || w.Purpose != "release 4.2" ||
			!w.OpenedAt.Equal(f.clk.t) || !w.ClosesAt.Equal(f.clk.t.Add(2*time.Hour)) {
			t.Errorf("window %+v", w)
		}
		types := audittest.Types(audittest.Events(t, f.s))
		if i := slices.Index(types, "window.opened"); i < 1 || types[i-1] != "request.approved" {
			t.Errorf("events %v", types)
		}
		if got := f.deploy(t); got.Outcome.Rule != "prod-inside-window" || got.Request.State != models.StatePending || got.Request.PolicyWindow != "prod" {
			t.Fatalf("inside the window: %s %s", got.Outcome.Rule, got.Request.State)
		}
		// Closing on time: a minute after closes_at the window is gone.
		f.clk.t = w.ClosesAt
		if open, _ := f.windows.OpenWindowNames(ctx, f.clk.t); len(open) != 0 {
			t.Fatalf("open at closes_at: %v", open)
		}
		if got := f.deploy(t); got.Outcome.Rule != "prod-outside" {
			t.Fatalf("after the window: %s", got.Outcome.Rule)
		}
		if _, err := f.windows.Close(ctx, "prod", carol); !errors.Is(err, window.ErrNotOpen) {
			t.Errorf("closing an expired window: %v", err)
		}
	})
}

func TestWindowAutoApprovedOpensAtOnceAndClosesByCommand(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		sub, err := window.RequestOpen(ctx, f.approvals, "freeze-exempt", "20m", "hotfix", carol, src, nil)
		if err != nil {
			t.Fatal(err)
		}
		if sub.Request.State != models.StateApproved {
			t.Fatalf("auto window %s", sub.Request.State)
		}
		if open, _ := f.windows.OpenWindowNames(ctx, f.clk.t); !slices.Equal(open, []string{"freeze-exempt"}) {
			t.Fatalf("open %v", open)
		}
		closer := models.Actor{Type: models.ActorHuman, ID: "u-erin", Display: "erin"}
		f.clk.t = f.clk.t.Add(5 * time.Minute)
		closed, err := f.windows.Close(ctx, "freeze-exempt", closer)
		if err != nil || len(closed) != 1 || closed[0].ClosedBy != "u-erin" || !closed[0].ClosedAt.Equal(f.clk.t) {
			t.Fatalf("close: %v %+v", err, closed)
		}
		if open, _ := f.windows.OpenWindowNames(ctx, f.clk.t); len(open) != 0 {
			t.Fatalf("open after close %v", open)
		}
		types := audittest.Types(audittest.Events(t, f.s))
		if types[len(types)-1] != "window.closed" {
			t.Errorf("events %v", types)
		}
		if _, err := f.windows.Close(ctx, "freeze-exempt", closer); !errors.Is(err, window.ErrNotOpen) || !errors.Is(err, models.ErrNotFound) {
			t.Errorf("second close: %v", err)
		}
		if _, err := f.windows.Close(ctx, "prod", models.Actor{}); !errors.Is(err, models.ErrInvalid) {
			t.Errorf("close without actor: %v", err)
		}
	})
}

func TestWindowRequestValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		for _, c := range [][2]string{{"staging", "1h"}, {"prod", "5h"}, {"freeze-exempt", "1h"}, {"prod", "-1h"}, {"prod", "2 hours"}} {
			if _, err := window.RequestOpen(ctx, f.approvals, c[0], c[1], "", carol, src, nil); !errors.Is(err, models.ErrInvalid) {
				t.Errorf("%v: %v", c, err)
			}
		}
		var n int64
		f.s.DB(ctx).Model(&models.Request{}).Count(&n)
		if n != 0 {
			t.Errorf("%d requests stored", n)
		}
	})
}
