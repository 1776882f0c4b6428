package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/demodata"
	"github.com/countersign/countersign/models/execution"
	"github.com/countersign/countersign/models/grant"
)

// demoAgentInterval is how often the simulated agent looks for its
// approved requests: often enough that a person who just gave the last
// approval sees the run on the next page load, cheap enough (one indexed
// query) to not matter.
const demoAgentInterval = time.Second

// demoAgent plays demodata.DeployBot, the agent of the seeded
// rotate-secret request, so the demo's walk ends in an execution: it does
// what README "The agent's loop" asks of a real agent — wait for approval,
// spend the grant once with the parameters it acts on, report the run —
// through the same domain calls the agent API makes, with itself as the
// actor of the audited redemption and result. It touches only the requests
// that actor made; a real agent connected through Mattermost has an id of
// its own and runs its own loop.
type demoAgent struct {
	store   *models.Store
	grants  *grant.Service
	results *execution.Service
	actor   models.Actor
	log     *slog.Logger
	now     func() time.Time
}

// newDemoAgent returns the simulated deploy-bot of the demo.
func newDemoAgent(store *models.Store, gp *grantParts, log *slog.Logger) *demoAgent {
	return &demoAgent{store: store, grants: gp.grants, results: gp.exec, actor: demodata.DeployBot, log: log, now: time.Now}
}

// run acts on approved requests every interval until ctx ends.
func (a *demoAgent) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := a.once(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("demo agent: a pass failed; it tries again", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// once runs every approved request of the agent that has no result yet
// and returns how many it reported.
func (a *demoAgent) once(ctx context.Context) (int, error) {
	var ids []string
	if err := a.store.DB(ctx).Model(&models.Request{}).
		Where("requester_id = ? AND state = ?", a.actor.ID, models.StateApproved).
		Order("id").Pluck("id", &ids).Error; err != nil {
		return 0, fmt.Errorf("demo agent: list approved requests: %w", err)
	}
	n := 0
	for _, id := range ids {
		done, err := a.act(ctx, id)
		if err != nil {
			return n, err
		}
		if done {
			n++
		}
	}
	return n, nil
}

// act redeems the grant of request id and reports the (simulated) run;
// false when there was nothing left to do (already reported, the grant
// expired meanwhile).
func (a *demoAgent) act(ctx context.Context, id string) (bool, error) {
	var r models.Request
	if err := a.store.DB(ctx).Omit("Posts", "ToolCalls", "Decisions").Take(&r, "id = ?", id).Error; err != nil {
		return false, fmt.Errorf("demo agent: load %s: %w", id, err)
	}
	tok, err := a.grants.Token(ctx, id)
	if errors.Is(err, models.ErrConflict) || errors.Is(err, models.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("demo agent: grant of %s: %w", id, err)
	}
	hash, err := grant.ParamsHashOf([]byte(r.Params))
	if err != nil {
		return false, fmt.Errorf("demo agent: params of %s: %w", id, err)
	}
	started := a.now()
	_, err = a.grants.RedeemRequest(ctx, id, tok, hash, a.actor)
	var re *grant.RefusedError
	switch {
	case errors.As(err, &re) && re.Reason == grant.ReasonReplayed:
		// Spent by an earlier pass that stopped before reporting: the
		// action counts as run, so report it rather than act twice.
	case errors.As(err, &re):
		a.log.Warn("demo agent: grant refused", "request_id", id, "reason", string(re.Reason))
		return false, nil
	case err != nil:
		return false, fmt.Errorf("demo agent: redeem %s: %w", id, err)
	}
	out, _ := json.Marshal(map[string]any{
		"simulated": true,
		"note":      "the demo's deploy-bot ran nothing; a real agent acts here, between redeeming and reporting",
		"action":    r.Action,
		"params":    json.RawMessage(r.Params),
	})
	_, err = a.results.RecordResult(ctx, id, execution.Result{Succeeded: true, Output: out, StartedAt: started, EndedAt: a.now()}, a.actor)
	switch {
	case errors.Is(err, execution.ErrAlreadyReported), errors.Is(err, execution.ErrResultTimedOut):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("demo agent: report %s: %w", id, err)
	}
	a.log.Info("demo agent: ran its approved request", "request_id", id, "action", r.Action)
	return true, nil
}
