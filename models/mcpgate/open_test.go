package mcpgate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/agents"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/mcpgate"
	"github.com/countersign/countersign/models/storetest"
)

// heldPolicy is gatePolicy with prod-api held for an sre's approval.
var heldPolicy = strings.Replace(gatePolicy, "version: 1\n", "version: 1\nroles:\n  sre: {}\n", 1) + `  - name: prod
    when: request.params.service == "prod-api"
    require: {approvals: 1, roles: [sre]}
`

// countingProposer proposes without chat and counts what it was asked.
type countingProposer struct {
	proposed, superseded atomic.Int64
	mu                   sync.Mutex
	supersededBy         []string
}

func (p *countingProposer) Propose(_ context.Context, pr mcpgate.Proposal) (*mcpgate.Conversation, error) {
	n := p.proposed.Add(1)
	return &mcpgate.Conversation{Source: models.Source{ChannelID: "incidents", TriggerPostID: fmt.Sprintf("post-%d", n)}}, nil
}

func (p *countingProposer) Superseded(_ context.Context, conv *mcpgate.Conversation, r *models.Request) error {
	p.superseded.Add(1)
	p.mu.Lock()
	p.supersededBy = append(p.supersededBy, conv.Source.TriggerPostID+"→"+r.ID)
	p.mu.Unlock()
	return nil
}

func countRows(t *testing.T, st *models.Store, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := st.DB(context.Background()).Raw(q, args...).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// TestIdenticalCallsRacingOpenOneRequest: identical calls that arrive
// together, before any request exists, through two gateways on two stores
// of one database (replicas), open exactly one request, audited once; every
// call is told the same request; each call that lost after posting its
// proposal says so under it.
func TestIdenticalCallsRacingOpenOneRequest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		st := b.Open(t)
		gates := [2]*mcpgate.Service{}
		gates[0], _ = newGateOn(t, st, heldPolicy, true)
		gates[1], _ = newGateOn(t, b.Open(t), heldPolicy, true)
		for round := 0; round < 3; round++ {
			// Rounds after the first race with the denied request of
			// the round before on record: the newest, so a new key.
			prop := &countingProposer{}
			args := map[string]any{"service": "prod-api"}
			const callers = 8
			ids := make([]string, callers)
			verdicts := make([]mcpgate.Verdict, callers)
			errs := make([]error, callers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := 0; i < callers; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					g, err := gates[i%2].Decide(ctx, mcpgate.Call{Agent: bot, Server: "ops", Tool: "restart_service", Arguments: args, Purpose: "INC-1"}, prop, "")
					if err != nil {
						errs[i] = err
						return
					}
					verdicts[i] = g.Verdict
					if g.Request != nil {
						ids[i] = g.Request.ID
					}
				}()
			}
			close(start)
			wg.Wait()
			for i := range ids {
				if errs[i] != nil {
					t.Fatalf("round %d caller %d: %v", round, i, errs[i])
				}
				if verdicts[i] != mcpgate.Waiting || ids[i] == "" || ids[i] != ids[0] {
					t.Fatalf("round %d: callers told %v %v, want one waiting request", round, verdicts, ids)
				}
			}
			open := countRows(t, st, `SELECT COUNT(*) FROM requests WHERE action = 'restart' AND state = 'pending'`)
			created := countRows(t, st, `SELECT COUNT(*) FROM audit_events WHERE type = 'request.created' AND request_id = ?`, ids[0])
			if open != 1 || created != 1 {
				t.Fatalf("round %d: %d pending requests, %d created events for %s (want 1 and 1)", round, open, created, ids[0])
			}
			if p, s := prop.proposed.Load(), prop.superseded.Load(); p < 1 || p-s != 1 {
				t.Fatalf("round %d: %d proposals posted, %d said superseded (%v): want one proposal per request", round, p, s, prop.supersededBy)
			}
			t.Logf("round %d: %d proposals, %d superseded", round, prop.proposed.Load(), prop.superseded.Load())
			for _, s := range prop.supersededBy {
				if !strings.HasSuffix(s, "→"+ids[0]) {
					t.Fatalf("round %d: superseded %s, want →%s", round, s, ids[0])
				}
			}
			// End the request: the next identical call is a new one.
			if err := st.DB(ctx).Exec(`UPDATE requests SET state = 'denied' WHERE id = ?`, ids[0]).Error; err != nil {
				t.Fatal(err)
			}
		}
		if n := countRows(t, st, `SELECT COUNT(*) FROM requests WHERE action = 'restart'`); n != 3 {
			t.Fatalf("%d requests after three rounds, want 3", n)
		}
	})
}

// TestCallAfterItsRequestRanOpensANewOne: once the request of a call has
// run, the same call again is a new request (its key names the request
// that ran), and the one that ran is not touched.
func TestCallAfterItsRequestRanOpensANewOne(t *testing.T) {
	ctx := context.Background()
	gate, _ := newGateOn(t, storetest.SQLite(t).Open(t), heldPolicy, true)
	call := mcpgate.Call{Agent: bot, Server: "ops", Tool: "restart_service", Arguments: map[string]any{"service": "staging-api"}}
	first, err := gate.Decide(ctx, call, nil, "")
	if err != nil || first.Verdict != mcpgate.Ready {
		t.Fatalf("first: %+v %v", first, err)
	}
	runNow(t, gate, first)
	second, err := gate.Decide(ctx, call, nil, "")
	if err != nil || second.Verdict != mcpgate.Ready || second.Request.ID == first.Request.ID {
		t.Fatalf("second: %+v %v (first %s)", second, err, first.Request.ID)
	}
}

// TestForeignRecordUnderTheKeyIsRefused: a record under the call's key
// that names another call's request (an agent can choose any key on the
// HTTP API) is not joined: the call fails with a conflict and opens
// nothing.
func TestForeignRecordUnderTheKeyIsRefused(t *testing.T) {
	ctx := context.Background()
	st := storetest.SQLite(t).Open(t)
	gate, _ := newGateOn(t, st, heldPolicy, true)
	other, err := gate.Decide(ctx, mcpgate.Call{Agent: bot, Server: "ops", Tool: "restart_service", Arguments: map[string]any{"service": "staging-api"}}, nil, "")
	if err != nil || other.Request == nil {
		t.Fatal(other, err)
	}
	key, err := gate.OpenKey(ctx, bot, "restart", `{"service":"prod-api"}`)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DB(ctx).Create(&agents.Idempotency{Agent: bot.ID, IdemKey: key, BodyHash: "x", RequestID: other.Request.ID}).Error; err != nil {
		t.Fatal(err)
	}
	_, err = gate.Decide(ctx, mcpgate.Call{Agent: bot, Server: "ops", Tool: "restart_service", Arguments: map[string]any{"service": "prod-api"}}, nil, "")
	if !errors.Is(err, models.ErrConflict) {
		t.Fatalf("Decide: %v, want a conflict", err)
	}
	if n := countRows(t, st, `SELECT COUNT(*) FROM requests WHERE params LIKE '%prod-api%'`); n != 0 {
		t.Fatalf("%d requests opened", n)
	}
}

// TestGateNeedsIdempotencyKeysRecorded: a gate whose approval service does
// not record idempotency keys refuses to open requests rather than open
// one per racing call.
func TestGateNeedsIdempotencyKeysRecorded(t *testing.T) {
	gate, _ := newGateOn(t, storetest.SQLite(t).Open(t), heldPolicy, false)
	_, err := gate.Decide(context.Background(), mcpgate.Call{Agent: bot, Server: "ops", Tool: "restart_service", Arguments: map[string]any{"service": "prod-api"}}, nil, "")
	if err == nil || !strings.Contains(err.Error(), "idempotency") {
		t.Fatalf("Decide: %v", err)
	}
}

// runNow spends g's grant and records a result, so its request has run.
func runNow(t *testing.T, gate *mcpgate.Service, g *mcpgate.Gate) {
	t.Helper()
	if _, _, err := gate.Run(context.Background(), g, bot, func(context.Context, json.RawMessage) mcpgate.Outcome {
		return mcpgate.Outcome{Result: json.RawMessage(`{}`)}
	}); err != nil {
		t.Fatal(err)
	}
}

// TestClocksDoNotDecideTheNextRequest: replicas whose clocks differ (one
// two seconds behind: its requests look older than the other's), or one
// clock that gives every request the same time, cannot make a call find a
// request that ran again: each call after the one before ran is a new
// request, on either replica.
func TestClocksDoNotDecideTheNextRequest(t *testing.T) {
	instant := time.Now()
	for name, clocks := range map[string][2]func() time.Time{
		"two seconds apart": {time.Now, func() time.Time { return time.Now().Add(-2 * time.Second) }},
		"one instant":       {func() time.Time { return instant }, func() time.Time { return instant }},
	} {
		t.Run(name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, b storetest.Backend) {
				ctx := context.Background()
				var gates [2]*mcpgate.Service
				gates[0], _ = newGateWith(t, b.Open(t), heldPolicy, agents.IdempotencyHook{}, clocks[0])
				gates[1], _ = newGateWith(t, b.Open(t), heldPolicy, agents.IdempotencyHook{}, clocks[1])
				call := mcpgate.Call{Agent: bot, Server: "ops", Tool: "restart_service", Arguments: map[string]any{"service": "staging-api"}}
				seen := map[string]bool{}
				for i := 0; i < 6; i++ {
					gate := gates[i%2]
					g, err := gate.Decide(ctx, call, nil, "")
					if err != nil {
						t.Fatal(err)
					}
					if g.Verdict != mcpgate.Ready || seen[g.Request.ID] {
						t.Fatalf("call %d: %s %s (%s), want a new request ready to run", i, g.Verdict, g.Request.ID, g.Reason)
					}
					seen[g.Request.ID] = true
					runNow(t, gate, g)
				}
			})
		})
	}
}

// takenOnce is an Idempotency effect whose first creation finds its key
// taken although no record is committed (as when the creation that took
// it failed at commit); after that it is the real one. always makes every
// creation find it so.
type takenOnce struct {
	agents.IdempotencyHook
	taken  atomic.Int64
	always bool
}

func (h *takenOnce) RequestChanged(tx *gorm.DB, ch approval.Change) error {
	if ch.Kind == approval.ChangeCreated && (h.always || h.taken.Add(1) == 1) {
		return agents.ErrKeyReused
	}
	return h.IdempotencyHook.RequestChanged(tx, ch)
}

// TestKeyTakenByACreationThatDidNotCommit: a call told its key was taken,
// whose key then has no record, walks again and opens the request with
// the proposal it posted (not a second one); a key taken that way every
// time ends in an error after a few attempts, with nothing opened.
func TestKeyTakenByACreationThatDidNotCommit(t *testing.T) {
	ctx := context.Background()
	st := storetest.SQLite(t).Open(t)
	gate, _ := newGateWith(t, st, heldPolicy, &takenOnce{}, nil)
	prop := &countingProposer{}
	call := mcpgate.Call{Agent: bot, Server: "ops", Tool: "restart_service", Arguments: map[string]any{"service": "prod-api"}}
	g, err := gate.Decide(ctx, call, prop, "")
	if err != nil || g.Verdict != mcpgate.Waiting {
		t.Fatalf("Decide: %+v %v", g, err)
	}
	if p, s := prop.proposed.Load(), prop.superseded.Load(); p != 1 || s != 0 {
		t.Fatalf("%d proposals, %d superseded, want 1 and 0", p, s)
	}
	if n := countRows(t, st, `SELECT COUNT(*) FROM requests`); n != 1 {
		t.Fatalf("%d requests", n)
	}

	st2 := storetest.SQLite(t).Open(t)
	gate, _ = newGateWith(t, st2, heldPolicy, &takenOnce{always: true}, nil)
	prop = &countingProposer{}
	if _, err := gate.Decide(ctx, call, prop, ""); err == nil || !strings.Contains(err.Error(), "did not commit") {
		t.Fatalf("Decide with a key always taken: %v", err)
	}
	if n := countRows(t, st2, `SELECT COUNT(*) FROM requests`); n != 0 || prop.proposed.Load() != 1 {
		t.Fatalf("%d requests, %d proposals, want 0 and 1", n, prop.proposed.Load())
	}
}
