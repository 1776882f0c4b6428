package agents_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/agents"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/policy"
	"github.com/countersign/countersign/models/storetest"
)

const botID = "6cex5ukfajfc8pbu3ewqd6i3ow"

func registry(t *testing.T) *agents.Registry {
	t.Helper()
	r, err := agents.NewRegistry([]agents.Agent{{Name: "deploy-bot", BotUserID: botID, Sponsor: "@Dave", Roles: []string{"agent"}, ClientID: "deploy-bot-client"}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRegistryRefusesBadAgents(t *testing.T) {
	good := agents.Agent{Name: "a", BotUserID: botID, Sponsor: "dave"}
	cases := map[string][]agents.Agent{
		"bad name":       {{Name: "A b", BotUserID: botID, Sponsor: "dave"}},
		"bad bot id":     {{Name: "a", BotUserID: "nope", Sponsor: "dave"}},
		"no sponsor":     {{Name: "a", BotUserID: botID}},
		"duplicate name": {good, good},
		"shared bot":     {good, {Name: "b", BotUserID: botID, Sponsor: "dave"}},
		"shared client": {{Name: "a", BotUserID: botID, Sponsor: "dave", ClientID: "c"},
			{Name: "b", BotUserID: "g54r5jzrrbba9bhss5p8zfo5zo", Sponsor: "dave", ClientID: "c"}},
	}
	for name, list := range cases {
		if _, err := agents.NewRegistry(list); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	r := registry(t)
	a, ok := r.ByClientID("deploy-bot-client")
	if !ok || a.Sponsor != "dave" || a.Actor().Validate("a") != nil {
		t.Fatalf("ByClientID = %+v, %v", a, ok)
	}
}

var operator = models.Actor{Type: models.ActorHuman, ID: "ops", Display: "ops"}

func TestKeysLifecycle(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		keys := agents.NewKeys(s, registry(t), func() time.Time { return now })

		if _, _, err := keys.Create(ctx, "ghost", 0, operator); !errors.Is(err, models.ErrInvalid) {
			t.Fatalf("key for unknown agent: %v", err)
		}
		if _, _, err := keys.Create(ctx, "deploy-bot", 400*24*time.Hour, operator); !errors.Is(err, models.ErrInvalid) {
			t.Fatalf("key beyond max ttl: %v", err)
		}
		plain, rec, err := keys.Create(ctx, "deploy-bot", 48*time.Hour, operator)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(plain, "cs_"+rec.ID+"_") || strings.Contains(rec.SecretHash, plain[len(plain)-52:]) {
			t.Fatalf("key %q / record %+v", plain, rec)
		}
		// Only the hash is stored.
		var stored string
		if err := s.DB(ctx).Raw(`SELECT secret_hash FROM agent_keys WHERE id = ?`, rec.ID).Scan(&stored).Error; err != nil || stored == "" || strings.Contains(plain, stored) {
			t.Fatalf("stored %q, %v", stored, err)
		}
		a, _, err := keys.Verify(ctx, plain)
		if err != nil || a.Name != "deploy-bot" {
			t.Fatalf("Verify = %v, %v", a, err)
		}
		for _, bad := range []string{"", "cs_", plain + "x", plain[:len(plain)-1] + "a", strings.Replace(plain, rec.ID, "aaaaaaaaaaaaaaaa", 1), "Bearer " + plain} {
			if bad == plain {
				continue
			}
			if _, _, err := keys.Verify(ctx, bad); !errors.Is(err, agents.ErrBadKey) {
				t.Errorf("Verify(%q) = %v", bad, err)
			}
		}
		// Expiry.
		now = now.Add(48 * time.Hour)
		if _, _, err := keys.Verify(ctx, plain); !errors.Is(err, agents.ErrBadKey) {
			t.Fatalf("expired key accepted: %v", err)
		}
		now = now.Add(-time.Hour)
		if _, _, err := keys.Verify(ctx, plain); err != nil {
			t.Fatalf("live key refused: %v", err)
		}
		// Revocation.
		if _, err := keys.Revoke(ctx, rec.ID, operator); err != nil {
			t.Fatal(err)
		}
		if _, _, err := keys.Verify(ctx, plain); !errors.Is(err, agents.ErrBadKey) {
			t.Fatalf("revoked key accepted: %v", err)
		}
		if _, err := keys.Revoke(ctx, rec.ID, operator); !errors.Is(err, models.ErrConflict) {
			t.Fatalf("second revoke: %v", err)
		}
		if _, err := keys.Revoke(ctx, "nosuchkey", operator); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("unknown revoke: %v", err)
		}
		list, err := keys.List(ctx, "deploy-bot")
		if err != nil || len(list) != 1 || list[0].Status(now) != "revoked" {
			t.Fatalf("List = %+v, %v", list, err)
		}
		// Creation and revocation are audited, without the secret.
		var events []models.AuditEvent
		if err := s.DB(ctx).Order("seq").Find(&events).Error; err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, e := range events {
			types = append(types, e.Type)
			if strings.Contains(e.Payload, plain[len(plain)-52:]) || strings.Contains(e.Payload, stored) {
				t.Fatalf("audit payload leaks the secret: %s", e.Payload)
			}
		}
		if strings.Join(types, ",") != "agent_key.created,agent_key.revoked" {
			t.Fatalf("audit events %v", types)
		}
		db, err := s.SQL()
		if err != nil {
			t.Fatal(err)
		}
		if rep, err := audit.Verify(ctx, db); err != nil || rep.Problem != nil {
			t.Fatalf("audit chain: %+v, %v", rep, err)
		}
	})
}

func TestIdempotencyHookOneRequestPerKey(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		pol, err := policy.Build("test", []*policy.Action{{Name: "restart"}}, policy.RequireForAll("all", 1, "approver"))
		if err != nil {
			t.Fatal(err)
		}
		svc := approval.New(s, approval.Config{Policy: policy.NewHolder(pol), Effects: approval.Effects{Idempotency: agents.IdempotencyHook{}}})
		a, _ := registry(t).ByName("deploy-bot")
		in := approval.NewRequest{Kind: models.KindAction, Action: "restart", Requester: a.Actor()}
		first, err := svc.Submit(agents.WithIdempotency(ctx, a.Name, "k1", "h1"), in, nil)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := agents.FindIdempotent(ctx, s, a.Name, "k1")
		if err != nil || rec.RequestID != first.Request.ID || rec.BodyHash != "h1" {
			t.Fatalf("record %+v, %v", rec, err)
		}
		_, err = svc.Submit(agents.WithIdempotency(ctx, a.Name, "k1", "h2"), in, nil)
		if !agents.IsKeyReused(err) {
			t.Fatalf("second submit with the same key: %v", err)
		}
		var n int64
		if err := s.DB(ctx).Model(&models.Request{}).Count(&n).Error; err != nil || n != 1 {
			t.Fatalf("%d requests stored, want 1 (%v)", n, err)
		}
		if _, err := agents.FindIdempotent(ctx, s, a.Name, "k2"); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("unknown key: %v", err)
		}
		// Without a key nothing is recorded.
		if _, err := svc.Submit(ctx, in, nil); err != nil {
			t.Fatal(err)
		}
	})
}
