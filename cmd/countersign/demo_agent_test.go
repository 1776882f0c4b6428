package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/demodata"
	"github.com/countersign/countersign/models/execution"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/exampleexecutor"
)

// TestDemoAgentRunsItsApprovedRequest: once the seeded agent's
// rotate-secret request is approved, the simulated deploy-bot redeems its
// grant and reports a run, so the request ends executed with the
// execution on record, redeemed and reported by the agent itself. It
// leaves other people's approved requests alone (the executor runs
// those), and a second pass does nothing twice.
func TestDemoAgentRunsItsApprovedRequest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		log := slog.New(slog.DiscardHandler)
		store := b.Open(t)
		cfg := DefaultConfig()
		cfg.PublicURL, cfg.DataDir = "http://countersign.test", t.TempDir()
		g, fx, err := newGrants(ctx, store, cfg, policyTerms(nil, exampleexecutor.DefaultName))
		if err != nil {
			t.Fatal(err)
		}
		svc := approvalService(store, cfg, nil, nil, fx, nil)
		if _, err := demodata.Seed(ctx, store, svc, time.Now()); err != nil {
			t.Fatal(err)
		}
		var rotate, restart models.Request
		store.DB(ctx).Take(&rotate, "action = ?", "rotate-secret")
		store.DB(ctx).Take(&restart, "action = ?", "restart")
		agent := newDemoAgent(store, newGrantParts(store, svc, g, cfg, log), log)

		// Pending: nothing to do yet.
		if n, err := agent.once(ctx); err != nil || n != 0 {
			t.Fatalf("pass before approval: %d, %v", n, err)
		}
		for _, id := range []string{rotate.ID, restart.ID} {
			if _, err := svc.Move(ctx, approval.Transition{ID: id, From: models.StatePending, To: models.StateApproved, Actor: demodata.Alice, Reason: "test"}); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := agent.once(ctx); err != nil || n != 1 {
			t.Fatalf("pass after approval ran %d requests (%v), want 1", n, err)
		}
		if n, err := agent.once(ctx); err != nil || n != 0 {
			t.Fatalf("second pass ran %d requests (%v), want 0", n, err)
		}
		r, err := svc.Get(ctx, rotate.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.State != models.StateExecuted {
			t.Fatalf("rotate-secret is %s, want executed", r.State)
		}
		e, err := execution.New(store, svc, g, nil).Get(ctx, rotate.ID)
		if err != nil {
			t.Fatal(err)
		}
		if e.State != execution.StateSucceeded || e.Mode != execution.ModeAgent || e.ReportedBy != demodata.DeployBot.ID {
			t.Errorf("execution %+v: want succeeded, mode agent, reported by deploy-bot", e)
		}
		gr, err := g.Get(ctx, rotate.ID)
		if err != nil {
			t.Fatal(err)
		}
		if gr.State != grant.StateRedeemed || gr.RedeemedBy != demodata.DeployBot.ID {
			t.Errorf("grant %s redeemed by %q, want redeemed by deploy-bot", gr.State, gr.RedeemedBy)
		}
		// Carol's restart is not the agent's: still approved, grant unspent.
		if r, _ := svc.Get(ctx, restart.ID); r.State != models.StateApproved {
			t.Errorf("someone else's request is %s, want approved", r.State)
		}
		if gr, _ := g.Get(ctx, restart.ID); gr.RedeemedAt != nil {
			t.Errorf("the agent spent someone else's grant")
		}
	})
}
