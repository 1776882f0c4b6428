package proof_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/audittest"
	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/models/storetest"
)

// TestCheckpointsAndProofs signs checkpoints over a growing log and checks
// roots against an independent in-memory computation, then inclusion and
// consistency proofs, intact and tampered.
func TestCheckpointsAndProofs(t *testing.T) {
	audittest.EachCheckpointer(t, func(t *testing.T, s *models.Store, k *proof.Key, c *proof.Checkpointer) {
		ctx := context.Background()
		if _, err := c.Latest(ctx); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("latest before any checkpoint: %v", err)
		}
		cp0 := audittest.Checkpoint(t, c)
		if cp0.Size != 0 || !bytes.Equal(cp0.Root, proof.EmptyRoot()) {
			t.Fatalf("empty log checkpoint %+v", cp0)
		}
		audittest.Seed(t, s, 300, "a")
		cp1 := audittest.Checkpoint(t, c)
		audittest.Seed(t, s, 400, "b")
		cp2 := audittest.Checkpoint(t, c)
		if again := audittest.Checkpoint(t, c); again.Size != 700 || again.Note != cp2.Note {
			t.Fatalf("checkpoint of an unchanged head made a new one: %+v", again)
		}
		if latest, err := c.Latest(ctx); err != nil || latest.Size != 700 || latest.Note != cp2.Note || latest.CreatedAt.IsZero() {
			t.Fatalf("latest %+v, %v", latest, err)
		}
		evs := audittest.Events(t, s)
		for _, cp := range []*proof.Checkpoint{cp1, cp2} {
			opened, err := proof.OpenCheckpoint([]byte(cp.Note), k.VerifierKey())
			if err != nil {
				t.Fatalf("open checkpoint %d: %v", cp.Size, err)
			}
			if opened.Origin != audittest.Origin || opened.Size != cp.Size || !bytes.Equal(opened.Root, referenceRoot(t, evs, int(cp.Size))) {
				t.Fatalf("checkpoint %d signs %+v, want the reference root", cp.Size, opened)
			}
			if !strings.HasPrefix(cp.Note, audittest.Origin+"\n") {
				t.Fatalf("note %q", cp.Note)
			}
		}
		var stored int64
		if err := s.DB(ctx).Raw(`SELECT COUNT(*) FROM audit_tree_nodes`).Scan(&stored).Error; err != nil || stored < 3 {
			t.Fatalf("%d stored tree nodes, %v", stored, err)
		}
		tree := c.Tree()
		check := func(label string) {
			for _, n := range []int64{0, 1, 2, 123, 256, 300, 511, 512, 700} {
				got, err := tree.RootAt(ctx, n)
				if err != nil || !bytes.Equal(got, referenceRoot(t, evs, int(n))) {
					t.Fatalf("%s: root at %d: %x, %v", label, n, got, err)
				}
			}
			for _, idx := range []int64{0, 1, 2, 255, 256, 299, 300, 511, 512, 698, 699} {
				p, err := tree.InclusionProof(ctx, idx, 700)
				if err != nil {
					t.Fatal(err)
				}
				if err := proof.VerifyInclusion(cp2, idx, evs[idx].Hash, p); err != nil {
					t.Fatalf("%s: inclusion of %d in 700: %v", label, idx, err)
				}
				if idx < 300 {
					p1, err := tree.InclusionProof(ctx, idx, 300)
					if err != nil {
						t.Fatal(err)
					}
					if err := proof.VerifyInclusion(cp1, idx, evs[idx].Hash, p1); err != nil {
						t.Fatalf("%s: inclusion of %d in 300: %v", label, idx, err)
					}
				}
			}
			p, err := tree.ConsistencyProof(ctx, 300, 700)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyConsistency(cp1, cp2, p); err != nil {
				t.Fatalf("%s: consistency 300 → 700: %v", label, err)
			}
		}
		check("stored nodes")
		// Without stored nodes everything is recomputed from leaves, with
		// the same results.
		if err := s.DB(ctx).Exec(`DELETE FROM audit_tree_nodes`).Error; err != nil {
			t.Fatal(err)
		}
		check("recomputed")

		// Tampered proofs fail.
		const idx = 257
		p, err := tree.InclusionProof(ctx, idx, 700)
		if err != nil {
			t.Fatal(err)
		}
		for i := range p {
			bad := clone(p)
			bad[i][5] ^= 1
			expectProblem(t, proof.VerifyInclusion(cp2, idx, evs[idx].Hash, bad), audit.ProblemProof)
		}
		expectProblem(t, proof.VerifyInclusion(cp2, idx+1, evs[idx].Hash, p), audit.ProblemProof)
		expectProblem(t, proof.VerifyInclusion(cp2, idx, evs[idx+1].Hash, p), audit.ProblemProof)
		expectProblem(t, proof.VerifyInclusion(cp2, idx, evs[idx].Hash, p[:len(p)-1]), audit.ProblemProof)
		expectProblem(t, proof.VerifyInclusion(cp2, 700, evs[idx].Hash, p), audit.ProblemProof)
		wrongRoot := *cp2
		wrongRoot.Root = cp1.Root
		expectProblem(t, proof.VerifyInclusion(&wrongRoot, idx, evs[idx].Hash, p), audit.ProblemProof)

		cons, err := tree.ConsistencyProof(ctx, 300, 700)
		if err != nil {
			t.Fatal(err)
		}
		for i := range cons {
			bad := clone(cons)
			bad[i][0] ^= 0x80
			expectProblem(t, proof.VerifyConsistency(cp1, cp2, bad), audit.ProblemConsistency)
		}
		expectProblem(t, proof.VerifyConsistency(cp2, cp1, cons), audit.ProblemConsistency)
		expectProblem(t, proof.VerifyConsistency(cp1, &wrongRoot, cons), audit.ProblemConsistency)
		if _, err := tree.InclusionProof(ctx, 700, 700); !errors.Is(err, models.ErrInvalid) {
			t.Fatalf("out-of-range inclusion: %v", err)
		}
	})
}

func clone(p [][]byte) [][]byte {
	out := make([][]byte, len(p))
	for i := range p {
		out[i] = append([]byte(nil), p[i]...)
	}
	return out
}

// TestCheckpointRefusesTamperedChain: the checkpointer never signs events
// that do not verify.
func TestCheckpointRefusesTamperedChain(t *testing.T) {
	audittest.EachCheckpointer(t, func(t *testing.T, s *models.Store, _ *proof.Key, c *proof.Checkpointer) {
		ctx := context.Background()
		audittest.Seed(t, s, 20, "a")
		audittest.Checkpoint(t, c)
		audittest.Seed(t, s, 10, "b")
		if err := s.DB(ctx).Exec(`UPDATE audit_events SET purpose = 'nothing to see' WHERE seq = 25`).Error; err != nil {
			t.Fatal(err)
		}
		_, err := c.Checkpoint(ctx)
		if p := expectProblem(t, err, audit.ProblemHash); p.Seq != 25 {
			t.Fatalf("problem at %d, want 25", p.Seq)
		}
		if latest, _ := c.Latest(ctx); latest.Size != 20 {
			t.Fatalf("latest checkpoint moved to %d", latest.Size)
		}
		// Removing signed events is refused too.
		if err := s.DB(ctx).Exec(`DELETE FROM audit_events WHERE seq > 15`).Error; err != nil {
			t.Fatal(err)
		}
		if err := s.DB(ctx).Exec(`UPDATE audit_head SET seq = 15`).Error; err != nil {
			t.Fatal(err)
		}
		_, err = c.Checkpoint(ctx)
		expectProblem(t, err, audit.ProblemHead)
	})
}

// TestConsistencyCatchesRewrittenHistory: an attacker with database access
// edits an old event, rehashes the whole chain (which then verifies) and
// removes the checkpoints; the server signs the rewritten log, but the
// auditor's older checkpoint is not consistent with it.
func TestConsistencyCatchesRewrittenHistory(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		s := b.Open(t)
		k := audittest.NewKey(t, audittest.Origin)
		c := audittest.NewCheckpointer(t, s, k)
		audittest.Seed(t, s, 50, "a")
		old := audittest.Checkpoint(t, c) // what the auditor kept
		audittest.Seed(t, s, 30, "b")
		audittest.RewriteFrom(t, s, 10, "approved by nobody")
		if err := s.DB(ctx).Exec(`DELETE FROM audit_checkpoints`).Error; err != nil {
			t.Fatal(err)
		}
		if err := s.DB(ctx).Exec(`DELETE FROM audit_tree_nodes`).Error; err != nil {
			t.Fatal(err)
		}
		if rep := audittest.Verify(t, s); rep.Problem != nil {
			t.Fatalf("the rewritten chain should verify on its own: %v", rep.Problem)
		}
		fresh := audittest.Checkpoint(t, c)
		if fresh.Size != 80 {
			t.Fatalf("fresh checkpoint %d", fresh.Size)
		}
		oldCP, err := proof.OpenCheckpoint([]byte(old.Note), k.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		newCP, err := proof.OpenCheckpoint([]byte(fresh.Note), k.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.Tree().ConsistencyProof(ctx, 50, 80)
		if err != nil {
			t.Fatal(err)
		}
		expectProblem(t, proof.VerifyConsistency(oldCP, newCP, p), audit.ProblemConsistency)
		// Without the rewrite the same question has a good answer.
		s2 := audittest.FreshStore(t, b)
		c2 := audittest.NewCheckpointer(t, s2, k)
		audittest.Seed(t, s2, 50, "a")
		o2 := audittest.Checkpoint(t, c2)
		audittest.Seed(t, s2, 30, "b")
		n2 := audittest.Checkpoint(t, c2)
		p2, err := c2.Tree().ConsistencyProof(ctx, 50, 80)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyConsistency(o2, n2, p2); err != nil {
			t.Fatalf("untouched log: %v", err)
		}
	})
}

// TestCheckpointRaceBetweenProcesses: two stores (two processes) and many
// goroutines checkpointing at once produce one checkpoint per size.
func TestCheckpointRaceBetweenProcesses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		s1, s2 := b.Open(t), b.Open(t)
		k := audittest.NewKey(t, audittest.Origin)
		c1, c2 := audittest.NewCheckpointer(t, s1, k), audittest.NewCheckpointer(t, s2, k)
		for round, n := range []int{300, 5} {
			audittest.Seed(t, s1, n, "r")
			roots := make([]string, 8)
			storetest.Race(len(roots), func(i int) {
				c := c1
				if i%2 == 1 {
					c = c2
				}
				cp, err := c.Checkpoint(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				roots[i] = cp.Note
			})
			for _, r := range roots[1:] {
				if r != roots[0] {
					t.Fatalf("round %d: different checkpoints returned", round)
				}
			}
		}
		var sizes []int64
		if err := s1.DB(ctx).Raw(`SELECT size FROM audit_checkpoints ORDER BY size`).Scan(&sizes).Error; err != nil {
			t.Fatal(err)
		}
		if len(sizes) != 2 || sizes[0] != 300 || sizes[1] != 305 {
			t.Fatalf("checkpoint sizes %v", sizes)
		}
	})
}

// TestOpenCheckpointRefusesForgeries covers the signature checks.
func TestOpenCheckpointRefusesForgeries(t *testing.T) {
	s := storetest.SQLite(t).Open(t)
	k := audittest.NewKey(t, audittest.Origin)
	c := audittest.NewCheckpointer(t, s, k)
	audittest.Seed(t, s, 12, "a")
	cp := audittest.Checkpoint(t, c)

	other := audittest.NewKey(t, audittest.Origin) // same name, different key
	expectProblem(t, open(cp.Note, other.VerifierKey()), audit.ProblemUnknownKey)

	// A flipped signature character.
	i := strings.LastIndex(cp.Note, " ") + 20
	flipped := audittest.FlipB64(cp.Note, i)
	expectProblem(t, open(flipped, k.VerifierKey()), audit.ProblemSignature)

	// A changed size or root keeps the signature, which then fails.
	expectProblem(t, open(strings.Replace(cp.Note, "\n12\n", "\n13\n", 1), k.VerifierKey()), audit.ProblemSignature)

	// An attacker's own key with the log's name: unknown key.
	skey, _, err := note.GenerateKey(rand.Reader, audittest.Origin)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	text := cp.Note[:strings.Index(cp.Note, "\n\n")+1]
	forged, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		t.Fatal(err)
	}
	expectProblem(t, open(string(forged), k.VerifierKey()), audit.ProblemUnknownKey)

	// A trusted key named for another log cannot speak for this one.
	skey2, vkey2, _ := note.GenerateKey(rand.Reader, "other.test/audit")
	signer2, _ := note.NewSigner(skey2)
	forged2, _ := note.Sign(&note.Note{Text: text}, signer2)
	expectProblem(t, open(string(forged2), vkey2), audit.ProblemUnknownKey)

	expectProblem(t, open("not a note", k.VerifierKey()), audit.ProblemMalformed)
	if _, err := proof.OpenCheckpoint([]byte(cp.Note)); err == nil {
		t.Fatal("no trusted key accepted")
	}
	if _, err := proof.OpenCheckpoint([]byte(cp.Note), other.VerifierKey(), k.VerifierKey()); err != nil {
		t.Fatalf("one of two keys: %v", err)
	}
}

func open(n string, vkeys ...string) error {
	_, err := proof.OpenCheckpoint([]byte(n), vkeys...)
	return err
}
