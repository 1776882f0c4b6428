package proof_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/audittest"
	"github.com/countersign/countersign/models/audit/proof"
)

func TestReceipts(t *testing.T) {
	audittest.EachCheckpointer(t, func(t *testing.T, s *models.Store, k *proof.Key, c *proof.Checkpointer) {
		ctx := context.Background()
		audittest.Seed(t, s, 30, "a")

		// No checkpoint covers event 7 yet: one is signed for the receipt.
		r, err := c.Receipt(ctx, 7)
		if err != nil {
			t.Fatal(err)
		}
		if r.TreeSize != 30 || r.LeafIndex != 6 || r.Event.Seq != 7 || !strings.Contains(r.Event.Purpose, "INC-4006") {
			t.Fatalf("receipt %+v", r)
		}
		data, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := proof.ParseReceipt(data)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyReceipt(parsed, k.VerifierKey()); err != nil {
			t.Fatalf("receipt does not verify: %v\n%s", err, data)
		}

		// The receipt uses the newest checkpoint that covers the event.
		audittest.Seed(t, s, 300, "b")
		audittest.Checkpoint(t, c)
		r2, err := c.Receipt(ctx, 7)
		if err != nil || r2.TreeSize != 330 {
			t.Fatalf("receipt after a newer checkpoint: %+v %v", r2, err)
		}
		if err := proof.VerifyReceipt(r2, k.VerifierKey()); err != nil {
			t.Fatal(err)
		}
		// An event newer than the latest checkpoint gets a new one.
		audittest.Seed(t, s, 1, "c")
		r3, err := c.Receipt(ctx, 331)
		if err != nil || r3.TreeSize != 331 {
			t.Fatalf("receipt of the newest event: %+v %v", r3, err)
		}
		if err := proof.VerifyReceipt(r3, k.VerifierKey()); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Receipt(ctx, 999); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("unknown event: %v", err)
		}

		tamper := func(name string, kind audit.ProblemKind, edit func(*proof.Receipt), vkeys ...string) {
			t.Helper()
			var cp proof.Receipt
			if err := json.Unmarshal(data, &cp); err != nil {
				t.Fatal(err)
			}
			edit(&cp)
			if len(vkeys) == 0 {
				vkeys = []string{k.VerifierKey()}
			}
			err := proof.VerifyReceipt(&cp, vkeys...)
			if err == nil {
				t.Fatalf("%s: tampered receipt verified", name)
			}
			if p := problemOf(t, err); p.Kind != kind {
				t.Fatalf("%s: want %s, got %v", name, kind, p)
			}
		}
		tamper("purpose altered", audit.ProblemHash, func(r *proof.Receipt) { r.Event.Purpose = "routine maintenance" })
		tamper("purpose altered and rehashed", audit.ProblemProof, func(r *proof.Receipt) {
			r.Event.Purpose = "routine maintenance"
			r.Event.Hash = string(audit.NewHasher().Sum(r.Event.Fields()))
		})
		tamper("leaf index", audit.ProblemProof, func(r *proof.Receipt) { r.LeafIndex++ })
		tamper("proof byte", audit.ProblemProof, func(r *proof.Receipt) { r.InclusionProof[1][3] ^= 4 })
		tamper("proof cut", audit.ProblemProof, func(r *proof.Receipt) { r.InclusionProof = r.InclusionProof[1:] })
		tamper("tree size", audit.ProblemProof, func(r *proof.Receipt) { r.TreeSize = 31 })
		tamper("checkpoint signature", audit.ProblemSignature, func(r *proof.Receipt) {
			i := strings.LastIndex(r.Checkpoint, " ") + 30
			r.Checkpoint = audittest.FlipB64(r.Checkpoint, i)
		})
		tamper("unknown key", audit.ProblemUnknownKey, func(*proof.Receipt) {}, audittest.NewKey(t, audittest.Origin).VerifierKey())
		tamper("format", audit.ProblemMalformed, func(r *proof.Receipt) { r.Format = "v0" })

		// The JSON itself: a purpose changed in the file, an unknown or a
		// duplicated key.
		for name, text := range map[string]string{
			"edited file":   strings.Replace(string(data), "INC-4006", "INC-4007", 1),
			"duplicate key": strings.Replace(string(data), `"purpose":`, `"purpose":"x","purpose":`, 1),
			"unknown key":   strings.Replace(string(data), `"tree_size"`, `"extra": 1, "tree_size"`, 1),
			"two proofs":    strings.Replace(string(data), `"tree_size"`, `"checkpoint": "x", "tree_size"`, 1),
			"case variant":  strings.Replace(string(data), `"tree_size"`, `"Checkpoint": "x", "tree_size"`, 1),
		} {
			r, err := proof.ParseReceipt([]byte(text))
			if err == nil {
				err = proof.VerifyReceipt(r, k.VerifierKey())
			}
			if err == nil {
				t.Fatalf("%s: verified", name)
			}
		}
	})
}
