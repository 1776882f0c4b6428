package proof

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/storetest"
)

// TestCheckpointFlushesNodesInBatches runs the first checkpoint of a log
// with a tiny flush threshold, so the constant-memory path (nodes written
// while events are still being read) is exercised, and checks the stored
// nodes serve the same proofs and roots as recomputation.
func TestCheckpointFlushesNodesInBatches(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		s := b.Open(t)
		for done := 0; done < 1100; done += 100 {
			err := s.WithTx(ctx, func(tx *gorm.DB) error {
				for i := 0; i < 100; i++ {
					if _, err := audit.Append(tx, time.Now(), audit.Entry{Type: "t", Actor: models.Actor{Type: models.ActorHuman, ID: "u"},
						Purpose: fmt.Sprint(done + i)}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		key, _, err := GenerateKey("flush.test/audit")
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewCheckpointer(s, key)
		if err != nil {
			t.Fatal(err)
		}
		c.flushAt = 2
		cp, err := c.Checkpoint(ctx)
		if err != nil || cp.Size != 1100 {
			t.Fatalf("checkpoint %+v %v", cp, err)
		}
		var n int64
		if err := s.DB(ctx).Raw(`SELECT COUNT(*) FROM audit_tree_nodes`).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		// Perfect subtrees of 256 leaves and up inside 1100: 4 + 2 + 1.
		if n != 7 {
			t.Fatalf("%d stored nodes, want 7", n)
		}
		if got, err := c.VerifyLatest(ctx); err != nil || got.Size != 1100 {
			t.Fatalf("verify latest: %+v %v", got, err)
		}
		p1, err := c.tree.InclusionProof(ctx, 700, 1100)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.DB(ctx).Exec(`DELETE FROM audit_tree_nodes`).Error; err != nil {
			t.Fatal(err)
		}
		p2, err := c.tree.InclusionProof(ctx, 700, 1100)
		if err != nil {
			t.Fatal(err)
		}
		for i := range p1 {
			if !bytes.Equal(p1[i], p2[i]) {
				t.Fatalf("stored and recomputed proofs differ at %d", i)
			}
		}
		// The live log drifting from the checkpoint is reported.
		if err := s.DB(ctx).Exec(`UPDATE audit_events SET hash = ? WHERE seq = 5`, audit.GenesisHash).Error; err != nil {
			t.Fatal(err)
		}
		_, err = c.VerifyLatest(ctx)
		var p *audit.Problem
		if !errors.As(err, &p) || p.Kind != audit.ProblemRoot {
			t.Fatalf("drift: %v", err)
		}
	})
}
