package agents_test

import (
	"context"

	"fmt"
	"sync"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/agents"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/models/grant/granttest"
	"github.com/countersign/countersign/models/policy"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/models/terms"
)

// autoPolicy approves every restart on its own, so each created request
// also gets a grant in its creating transaction.
const autoPolicy = `version: 1
roles:
  agent: {}
actions:
  - name: restart
    requesters: [agent]
rules:
  - name: auto
    when: "true"
    auto_approve: {}
`

// agentService wires Submit as the portal does for agents: terms, grants
// and the idempotency record, all inside the creating transaction.
func agentService(t *testing.T, s *models.Store) *approval.Service {
	t.Helper()
	p, err := policy.Parse("policy.yaml", []byte(autoPolicy))
	if err != nil {
		t.Fatal(err)
	}
	g, err := grant.New(s, grant.Config{Issuer: granttest.Issuer, SealKey: granttest.SealKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.EnsureKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	fx := approval.Effects{
		Idempotency: agents.IdempotencyHook{}, Grant: g.Hook(),
		Terms: terms.Hook(func(*models.Request) terms.Terms { return terms.Terms{Executor: "deployer"} }),
	}
	return approval.New(s, approval.Config{Policy: policy.NewHolder(p), Effects: fx})
}

func agentRequest(a *agents.Agent, i int) approval.NewRequest {
	return approval.NewRequest{Kind: models.KindAction, Action: "restart", Requester: a.Actor(), Purpose: fmt.Sprintf("run %d", i)}
}

func count(t *testing.T, s *models.Store, model any) int64 {
	t.Helper()
	var n int64
	if err := s.DB(context.Background()).Model(model).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// TestIdempotencyDistinctKeysConcurrently creates many agent requests at
// once, each under its own key, so that they share group commits: every
// one must succeed and be recorded under its own key, with its own grant.
func TestIdempotencyDistinctKeysConcurrently(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		svc := agentService(t, s)
		a, _ := registry(t).ByName("deploy-bot")
		ctx := context.Background()
		const n = 48
		ids := make([]string, n)
		errs := make([]error, n)
		storetest.Race(n, func(i int) {
			key := fmt.Sprintf("key-%d", i)
			sub, err := svc.Submit(agents.WithIdempotency(ctx, a.Name, key, "body-"+key), agentRequest(a, i), []string{"agent"})
			if err == nil {
				ids[i] = sub.Request.ID
			}
			errs[i] = err
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("create %d with a fresh key: %v", i, err)
			}
		}
		for i := range n {
			key := fmt.Sprintf("key-%d", i)
			rec, err := agents.FindIdempotent(ctx, s, a.Name, key)
			if err != nil {
				t.Fatalf("record of %s: %v", key, err)
			}
			if rec.RequestID != ids[i] || rec.BodyHash != "body-"+key {
				t.Fatalf("key %s records request %s body %s, want %s body-%s", key, rec.RequestID, rec.BodyHash, ids[i], key)
			}
		}
		if got := count(t, s, &models.Request{}); got != n {
			t.Fatalf("%d requests, want %d", got, n)
		}
		if got := count(t, s, &grant.Grant{}); got != n {
			t.Fatalf("%d grants, want %d", got, n)
		}
		verifyChain(t, s)
	})
}

// TestIdempotencySameKeyRaced sends one key and body from many goroutines
// through two stores on one database (two replicas), among as many
// creates without a key (as slash commands are) sharing their commits:
// exactly one request and one grant exist for the key afterwards, and
// every loser is told the key was used, never a storage failure.
func TestIdempotencySameKeyRaced(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		stores := []*models.Store{b.Open(t), b.Open(t)}
		svcs := []*approval.Service{agentService(t, stores[0]), agentService(t, stores[1])}
		a, _ := registry(t).ByName("deploy-bot")
		ctx := context.Background()
		const n, background = 100, 100
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []string
			start   = make(chan struct{})
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				sub, err := svcs[i%2].Submit(agents.WithIdempotency(ctx, a.Name, "same-key", "same-body"), agentRequest(a, 0), []string{"agent"})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					winners = append(winners, sub.Request.ID)
				case !agents.IsKeyReused(err):
					t.Errorf("loser %d: want the key-used answer, got %v", i, err)
				}
			}()
		}
		for i := range background {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if _, err := svcs[i%2].Submit(ctx, agentRequest(a, i+1), []string{"agent"}); err != nil {
					t.Errorf("create %d without a key: %v", i, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("%d creates succeeded, want exactly 1: %v", len(winners), winners)
		}
		rec, err := agents.FindIdempotent(ctx, stores[0], a.Name, "same-key")
		if err != nil || rec.RequestID != winners[0] {
			t.Fatalf("record %+v (%v), want request %s", rec, err, winners[0])
		}
		var keyed []models.Request
		if err := stores[0].DB(ctx).Where("purpose = ?", "run 0").Find(&keyed).Error; err != nil {
			t.Fatal(err)
		}
		if len(keyed) != 1 {
			t.Fatalf("%d requests for the raced key, want 1", len(keyed))
		}
		var grants int64
		if err := stores[0].DB(ctx).Model(&grant.Grant{}).Where("request_id = ?", keyed[0].ID).Count(&grants).Error; err != nil || grants != 1 {
			t.Fatalf("%d grants for the raced key's request, want 1 (%v)", grants, err)
		}
		if got := count(t, stores[0], &models.Request{}); got != 1+background {
			t.Fatalf("%d requests, want %d", got, 1+background)
		}
		verifyChain(t, stores[0])
	})
}

func verifyChain(t *testing.T, s *models.Store) {
	t.Helper()
	db, err := s.SQL()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(context.Background(), db)
	if err != nil || rep.Problem != nil {
		t.Fatalf("audit chain: %+v, %v", rep, err)
	}
}
