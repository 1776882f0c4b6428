// Package audittest holds test helpers shared by the audit packages'
// tests: a seeded log, keys and checkpointers, and the tampering an
// attacker with database access but no signing key could do.
package audittest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/models/storetest"
)

// Origin is the log origin test keys name.
const Origin = "countersign.test/audit"

// Seed appends n events through audit.Append, 100 per transaction.
func Seed(t testing.TB, s *models.Store, n int, tag string) {
	t.Helper()
	for done := 0; done < n; {
		k := min(100, n-done)
		err := s.WithTx(context.Background(), func(tx *gorm.DB) error {
			for i := 0; i < k; i++ {
				_, err := audit.Append(tx, time.Now(), audit.Entry{
					Type: "request.approved", Actor: models.Actor{Type: models.ActorAgent, ID: "deploy-bot", Display: "Deploy Bot"},
					RequestID: fmt.Sprintf("REQ-%s-%d", tag, done+i), Purpose: fmt.Sprintf("INC-%d rollout %s", 4000+done+i, tag),
					Action: "restart", PolicyRef: "prod", Payload: map[string]any{"i": done + i, "note": `quote " and \ slash`},
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("seed: %v", err)
		}
		done += k
	}
}

// NewKey makes a fresh key for origin in a temporary directory.
func NewKey(t testing.TB, origin string) *proof.Key {
	t.Helper()
	k, err := proof.LoadOrCreateKey(t.TempDir(), origin)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// NewCheckpointer returns a checkpointer over s signing with k.
func NewCheckpointer(t testing.TB, s *models.Store, k *proof.Key) *proof.Checkpointer {
	t.Helper()
	c, err := proof.NewCheckpointer(s, k)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// EachCheckpointer runs fn once for each store engine, on a fresh store
// with a checkpointer over it signing with a fresh key for Origin: where
// most proof tests start.
func EachCheckpointer(t *testing.T, fn func(t *testing.T, s *models.Store, k *proof.Key, c *proof.Checkpointer)) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		s := b.Open(t)
		k := NewKey(t, Origin)
		fn(t, s, k, NewCheckpointer(t, s, k))
	})
}

// Checkpoint signs the log head with c.
func Checkpoint(t testing.TB, c *proof.Checkpointer) *proof.Checkpoint {
	t.Helper()
	cp, err := c.Checkpoint(context.Background())
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	return cp
}

// Events returns every stored event in order.
func Events(t testing.TB, s *models.Store) []models.AuditEvent {
	t.Helper()
	var evs []models.AuditEvent
	if err := s.DB(context.Background()).Order("seq").Find(&evs).Error; err != nil {
		t.Fatal(err)
	}
	return evs
}

// Types returns the types of evs, in order.
func Types(evs []models.AuditEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// RewriteFrom changes event seq's purpose and rehashes the chain from there
// to the head, as an attacker with write access but no signing key could.
func RewriteFrom(t testing.TB, s *models.Store, seq int64, purpose string) {
	t.Helper()
	evs := Events(t, s)
	x := audit.NewHasher()
	prev := audit.GenesisHash
	db := s.DB(context.Background())
	for i := range evs {
		ev := &evs[i]
		if ev.Seq < seq {
			prev = ev.Hash
			continue
		}
		if ev.Seq == seq {
			ev.Purpose = purpose
		}
		ev.PrevHash = prev
		ev.Hash = string(x.Sum(audit.FieldsOf(ev)))
		prev = ev.Hash
		if err := db.Exec(`UPDATE audit_events SET purpose = ?, prev_hash = ?, hash = ? WHERE seq = ?`, ev.Purpose, ev.PrevHash, ev.Hash, ev.Seq).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Exec(`UPDATE audit_head SET hash = ? WHERE id = 1`, prev).Error; err != nil {
		t.Fatal(err)
	}
}

// FreshStore opens a store on a new database of b's engine.
func FreshStore(t *testing.T, b storetest.Backend) *models.Store {
	t.Helper()
	if b.Name == "sqlite" {
		return storetest.SQLite(t).Open(t)
	}
	return storetest.Postgres(t).Open(t)
}

// FlipB64 changes the base64 character at i into another base64 character.
func FlipB64(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

// Verify checks the whole chain of s and returns the report.
func Verify(t testing.TB, s *models.Store) *audit.Report {
	t.Helper()
	db, err := s.SQL()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}
