package audit_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/storetest"
)

const testOrigin = "countersign.test/audit"

// seed appends n events through audit.Append, 100 per transaction.
func seed(t testing.TB, s *models.Store, n int, tag string) {
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

// newKey makes a fresh key for origin in a temporary directory.
func newKey(t testing.TB, origin string) *audit.Key {
	t.Helper()
	k, err := audit.LoadOrCreateKey(t.TempDir(), origin)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newCheckpointer(t testing.TB, s *models.Store, k *audit.Key) *audit.Checkpointer {
	t.Helper()
	c, err := audit.NewCheckpointer(s, k)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func checkpoint(t testing.TB, c *audit.Checkpointer) *audit.Checkpoint {
	t.Helper()
	cp, err := c.Checkpoint(context.Background())
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	return cp
}

// events returns every stored event in order.
func events(t testing.TB, s *models.Store) []models.AuditEvent {
	t.Helper()
	var evs []models.AuditEvent
	if err := s.DB(context.Background()).Order("seq").Find(&evs).Error; err != nil {
		t.Fatal(err)
	}
	return evs
}

// referenceRoot computes the root over the first n stored events in memory
// with the library's compact range, independently of Tree.
func referenceRoot(t testing.TB, evs []models.AuditEvent, n int) []byte {
	t.Helper()
	rng := (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewEmptyRange(0)
	for _, ev := range evs[:n] {
		leaf, err := audit.LeafHash(ev.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if err := rng.Append(leaf, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n == 0 {
		return audit.EmptyRoot()
	}
	r, err := rng.GetRootHash(nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// rewriteFrom changes event seq's purpose and rehashes the chain from there
// to the head, as an attacker with write access but no signing key could.
func rewriteFrom(t testing.TB, s *models.Store, seq int64, purpose string) {
	t.Helper()
	evs := events(t, s)
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

// problemOf returns the *audit.Problem in err, failing the test if none.
func problemOf(t testing.TB, err error) *audit.Problem {
	t.Helper()
	var p *audit.Problem
	if !errors.As(err, &p) {
		t.Fatalf("want an *audit.Problem, got %v", err)
	}
	return p
}

func expectProblem(t testing.TB, err error, kind audit.ProblemKind) *audit.Problem {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s problem, got nil", kind)
	}
	p := problemOf(t, err)
	if p.Kind != kind {
		t.Fatalf("want %s problem, got %v", kind, p)
	}
	return p
}

// freshStore opens a store on a new database of b's engine.
func freshStore(t *testing.T, b storetest.Backend) *models.Store {
	if b.Name == "sqlite" {
		return storetest.SQLite(t).Open(t)
	}
	return storetest.Postgres(t).Open(t)
}

// flipB64 changes the base64 character at i into another base64 character.
func flipB64(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}
