package main

import (
	"path/filepath"

	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/countersign/countersign/web/executor"
	"github.com/countersign/countersign/web/keyfile"

	"github.com/countersign/countersign/handlers"
	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/execution"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/models/sweep"
	"github.com/countersign/countersign/models/terms"
)

// workerInterval is how often the dispatcher and the sweeper run.
const workerInterval = 5 * time.Second

// grantParts are grants, executions and the follow-up sweeper.
type grantParts struct {
	grants     *grant.Service
	exec       *execution.Service
	creds      *execution.Credentials
	dispatcher *executor.Dispatcher
	sweeper    *sweep.Sweeper
}

// newGrants creates the grant service (and the first signing key) and
// returns the effects of its part that must run inside every change:
// terms (src gives them; nil means defaults), grant minting and execution
// queueing (approvalService adds the others).
func newGrants(ctx context.Context, store *models.Store, cfg Config, src terms.Source) (*grant.Service, approval.Effects, error) {
	seal, err := keyfile.LoadOrCreate(cfg.Grants.SealKey, filepath.Join(cfg.DataDir, grantSealKeyFile), grant.SealKeySize, "grant seal key")
	if err != nil {
		return nil, approval.Effects{}, &startupError{err: err}
	}
	g, err := grant.New(store, grant.Config{Issuer: cfg.PublicURL, Terms: src, SealKey: seal[:grant.SealKeySize]})
	if err != nil {
		return nil, approval.Effects{}, &startupError{err: err}
	}
	if _, err := g.EnsureKey(ctx); err != nil {
		return nil, approval.Effects{}, &startupError{err: err}
	}
	return g, approval.Effects{Terms: terms.Hook(src), Grant: g.Hook(), Execution: execution.Hook()}, nil
}

// newGrantParts builds the execution service and the workers; the
// sweeper hands reminders and escalations to chatReminders (chat when the
// bot is configured, else the audit log only).
func newGrantParts(store *models.Store, approvals *approval.Service, g *grant.Service, cfg Config, log *slog.Logger) *grantParts {
	execs := map[string]executor.Executor{}
	for name, x := range cfg.Executors {
		execs[name] = executor.Executor{URL: x.URL, Timeout: x.Timeout.D(), MaxAttempts: x.MaxAttempts}
	}
	svc := execution.New(store, approvals, g, nil)
	return &grantParts{
		grants: g, exec: svc, creds: execution.NewCredentials(cfg.Executors.tokens()),
		dispatcher: executor.NewDispatcher(svc, executor.Config{Executors: execs, Logger: log}),
		sweeper:    sweep.New(store, approvals, g, sweep.Config{Logger: log, Notifier: chatReminders(cfg), ResultTimeout: cfg.Request.ResultTimeout.D()}),
	}
}

// start runs the workers until ctx ends.
func (p *grantParts) start(ctx context.Context) {
	go p.dispatcher.Run(ctx, workerInterval)
	go p.sweeper.Run(ctx, workerInterval)
}

// String is for startup errors.
func (p *grantParts) String() string { return fmt.Sprintf("grants(%s)", p.grants.Issuer()) }

// executions returns what the request pages read executions from.
func (p *portal) executions() handlers.ExecutionReader {
	if p.grants == nil {
		return nil
	}
	return p.grants.exec
}

// grantRecords returns what the request pages read grants from.
func (p *portal) grantRecords() handlers.GrantReader {
	if p.grants == nil {
		return nil
	}
	return p.grants.grants
}

// policyTerms derives a request's grant and reminder terms from what the
// policy froze on it at submission (models.ApprovalRules) and the executor
// the catalogue names for its action; fallback is the executor used when
// the catalogue names none (the demo's example executor).
func policyTerms(rt *policyRuntime, fallback string) terms.Source {
	return func(r *models.Request) terms.Terms {
		t := terms.Terms{
			GrantTTL: r.GrantTTL, Roles: r.ApproverRoles, Remind: r.Remind,
			EscalateTo: r.EscalateRoles, EscalateAfter: r.EscalateAfter,
		}
		if rt != nil && rt.holder.Current() != nil {
			if a, ok := rt.holder.Current().Action(r.Action); ok {
				t.Executor = a.Executor
			}
		}
		if fallback != "" {
			t.Executor = fallback
		}
		return t
	}
}
