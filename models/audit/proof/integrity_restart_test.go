package proof_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/audittest"
	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/models/storetest"
)

// restarted is a fresh process on an existing database: a new store, a
// new checkpointer (with its own read counters) and an empty cache whose
// background work waits in bg.
type restarted struct {
	store *models.Store
	c     *proof.Checkpointer
	ic    *proof.IntegrityCache
	bg    *deferred
}

func restart(t *testing.T, b storetest.Backend, k *proof.Key) *restarted {
	t.Helper()
	s := b.Open(t)
	c := audittest.NewCheckpointer(t, s, k)
	r := &restarted{store: s, c: c, ic: proof.NewIntegrityCache(c, 0), bg: &deferred{}}
	r.ic.SetBackground(r.bg.start)
	return r
}

// setState overwrites the stored tree state, as a replica of an older
// version (which does not store it) or an attacker would leave it.
func setState(t *testing.T, s *models.Store, size int, compact string) {
	t.Helper()
	if err := s.DB(context.Background()).Exec(`UPDATE audit_tree_frontier SET size = ?, compact = ? WHERE id = 1`, size, compact).Error; err != nil {
		t.Fatal(err)
	}
}

// TestIntegrityAfterRestartReadsOnlyStoredState: the first view after a
// start checks the latest checkpoint from stored rows; the counting tree
// shows that no event hash is read on the request path (and that the full
// pass it starts reads them all, off it). When the stored state lags, the
// view reads only the events it lacks, or a consistency proof's few
// stored subtrees; when even those are missing it says pending rather than
// scan the log.
func TestIntegrityAfterRestartReadsOnlyStoredState(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		first := b.Open(t)
		key := audittest.NewKey(t, audittest.Origin)
		signer := audittest.NewCheckpointer(t, first, key)
		audittest.Seed(t, first, 3000, "a")
		audittest.Checkpoint(t, signer)

		r := restart(t, b, key)
		cp, err := r.ic.VerifyLatest(ctx)
		if err != nil || cp.Size != 3000 {
			t.Fatalf("first view after restart: %v %+v", err, cp)
		}
		if reads := r.c.Tree().Reads(); reads != (proof.TreeReads{}) {
			t.Fatalf("first view after restart read %+v from the tree, want nothing", reads)
		}
		if s := r.ic.Stats(); s.Quick != 1 || s.QuickLeaves != 0 || s.Full != 0 || r.bg.pending() != 1 {
			t.Fatalf("first view stats %+v, %d background tasks", s, r.bg.pending())
		}
		r.bg.drain()
		if reads := r.c.Tree().Reads(); reads.Leaves != 3000 {
			t.Fatalf("the background full pass read %+v, want every event", reads)
		}

		// A checkpoint signed by a replica that does not store the tree
		// state: the view reads just the 100 events the state lacks, and
		// stores the state for everyone.
		at3000, err := signer.Frontier().Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		audittest.Seed(t, first, 100, "b")
		audittest.Checkpoint(t, signer)
		setState(t, first, 3000, at3000.Hex())
		r = restart(t, b, key)
		if cp, err := r.ic.VerifyLatest(ctx); err != nil || cp.Size != 3100 {
			t.Fatalf("lagging state: %v %+v", err, cp)
		}
		if reads := r.c.Tree().Reads(); reads.Leaves != 100 || reads.NodeRows != 0 {
			t.Fatalf("lagging state: read %+v, want the 100 new events", reads)
		}
		if st, err := r.c.Frontier().Load(ctx); err != nil || st.Size() != 3100 {
			t.Fatalf("lagging state not stored: %v %v", st, err)
		}

		// Further behind than a view may read: a consistency proof from
		// stored subtrees ties the state to the signed root, and the
		// state is caught up in the background.
		leaves := eventLeaves(t, first)
		setState(t, first, 1000, referenceCompact(leaves[:1000]))
		r = restart(t, b, key)
		r.ic.SetQuickLeaves(600)
		if _, err := r.ic.VerifyLatest(ctx); err != nil {
			t.Fatalf("far behind: %v", err)
		}
		if reads := r.c.Tree().Reads(); reads.Leaves > 600 || reads.NodeRows == 0 || reads.NodeRows > 64 {
			t.Fatalf("far behind: read %+v", reads)
		}
		r.bg.drain()
		if st, err := r.c.Frontier().Load(ctx); err != nil || st.Size() != 3100 {
			t.Fatalf("not caught up in the background: %v %v", st, err)
		}

		// From an empty state (nothing to be consistent with) the root at
		// the checkpoint comes from stored subtrees alone.
		setState(t, first, 0, "")
		r = restart(t, b, key)
		r.ic.SetQuickLeaves(600)
		if _, err := r.ic.VerifyLatest(ctx); err != nil {
			t.Fatalf("empty state: %v", err)
		}
		if reads := r.c.Tree().Reads(); reads.Leaves > 600 {
			t.Fatalf("empty state: read %+v", reads)
		}

		// A subtree the check needs is gone: the view is pending, it does
		// not read the 1024 events below it.
		setState(t, first, 0, "")
		if err := first.DB(ctx).Exec(`DELETE FROM audit_tree_nodes WHERE level = 10 AND idx = 2`).Error; err != nil {
			t.Fatal(err)
		}
		r = restart(t, b, key)
		r.ic.SetQuickLeaves(600)
		cp, err = r.ic.VerifyLatest(ctx)
		if !errors.Is(err, proof.ErrIntegrityPending) || cp == nil || cp.Size != 3100 {
			t.Fatalf("missing subtree: %v %+v", err, cp)
		}
		if reads := r.c.Tree().Reads(); reads.Leaves > 600 {
			t.Fatalf("missing subtree: read %+v", reads)
		}
	})
}

// TestIntegrityReportsAlteredState: a stored tree state that does not hash
// to the signed root is a mismatch on the first view; one that is
// consistent but altered where the quick check cannot see it is caught by
// the full pass, which recomputes it.
func TestIntegrityReportsAlteredState(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		s := b.Open(t)
		key := audittest.NewKey(t, audittest.Origin)
		audittest.Seed(t, s, 700, "a")
		audittest.Checkpoint(t, audittest.NewCheckpointer(t, s, key))
		st, err := audittest.NewCheckpointer(t, s, key).Frontier().Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		good := st.Hex()
		setState(t, s, 700, flipHex(good, 5))
		r := restart(t, b, key)
		_, err = r.ic.VerifyLatest(ctx)
		if p := expectProblem(t, err, audit.ProblemRoot); !strings.Contains(p.Detail, "stored tree state") {
			t.Fatalf("altered state: %v", p)
		}

		// The full check (audit verify's and the page's background pass)
		// recomputes the state and names it.
		if _, err := r.c.VerifyLatest(ctx); err == nil {
			t.Fatal("full verification trusted an altered tree state")
		}
		setState(t, s, 700, good)
		if _, err := r.c.VerifyLatest(ctx); err != nil {
			t.Fatalf("restored state: %v", err)
		}
		// A state ahead of the checkpoint that is wrong: the quick check's
		// consistency proof fails, so does the full pass.
		audittest.Seed(t, s, 10, "b")
		leaves := eventLeaves(t, s)
		setState(t, s, 710, flipHex(referenceCompact(leaves), 70))
		r = restart(t, b, key)
		_, err = r.ic.VerifyLatest(ctx)
		expectProblem(t, err, audit.ProblemRoot)
		r.bg.drain()
		_, err = r.c.VerifyLatest(ctx)
		if p := expectProblem(t, err, audit.ProblemRoot); !strings.Contains(p.Detail, "audit_tree_frontier") {
			t.Fatalf("full pass: %v", p)
		}
		// A deleted state row is reported, not recreated.
		if err := s.DB(ctx).Exec(`DELETE FROM audit_tree_frontier`).Error; err != nil {
			t.Fatal(err)
		}
		r = restart(t, b, key)
		_, err = r.ic.VerifyLatest(ctx)
		expectProblem(t, err, audit.ProblemRoot)
	})
}

// TestVerifyStoredTreeDetectsTampering: audit verify recomputes every
// stored subtree, the tree state and the checkpoint roots from the events
// and reports the first that differs.
func TestVerifyStoredTreeDetectsTampering(t *testing.T) {
	audittest.EachCheckpointer(t, func(t *testing.T, s *models.Store, _ *proof.Key, c *proof.Checkpointer) {
		ctx := context.Background()
		db, err := s.SQL()
		if err != nil {
			t.Fatal(err)
		}
		audittest.Seed(t, s, 700, "a")
		audittest.Checkpoint(t, c)
		audittest.Seed(t, s, 50, "b")
		if _, err := c.Frontier().CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		rep, err := proof.VerifyStoredTree(ctx, db)
		if err != nil || rep.Problem != nil || rep.Events != 750 || rep.Nodes != 3 || rep.StateSize != 750 || rep.Checkpoints != 1 {
			t.Fatalf("intact: %+v %v", rep, err)
		}
		var node string
		if err := db.QueryRow(`SELECT hash FROM audit_tree_nodes WHERE level = 8 AND idx = 1`).Scan(&node); err != nil {
			t.Fatal(err)
		}
		var cpRoot string
		if err := db.QueryRow(`SELECT root_hash FROM audit_checkpoints WHERE size = 700`).Scan(&cpRoot); err != nil {
			t.Fatal(err)
		}
		state, err := c.Frontier().Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, tamper, undo, want string
		}{
			{"subtree", `UPDATE audit_tree_nodes SET hash = '` + flipHex(node, 0) + `' WHERE level = 8 AND idx = 1`,
				`UPDATE audit_tree_nodes SET hash = '` + node + `' WHERE level = 8 AND idx = 1`, "stored subtree 8/1"},
			{"subtree beyond the log", `INSERT INTO audit_tree_nodes (level, idx, hash) VALUES (8, 9, '` + node + `')`,
				`DELETE FROM audit_tree_nodes WHERE level = 8 AND idx = 9`, "beyond the log"},
			{"tree state", `UPDATE audit_tree_frontier SET compact = '` + flipHex(state.Hex(), 3) + `'`,
				`UPDATE audit_tree_frontier SET compact = '` + state.Hex() + `'`, "audit_tree_frontier"},
			{"tree state beyond the log", `UPDATE audit_tree_frontier SET size = 752, compact = '` + strings.Repeat(node, 5) + `'`,
				`UPDATE audit_tree_frontier SET size = 750, compact = '` + state.Hex() + `'`, "covers 752 events"},
			{"malformed tree state", `UPDATE audit_tree_frontier SET size = 751`,
				`UPDATE audit_tree_frontier SET size = 750`, "malformed"},
			{"checkpoint root", `UPDATE audit_checkpoints SET root_hash = '` + flipHex(cpRoot, 9) + `'`,
				`UPDATE audit_checkpoints SET root_hash = '` + cpRoot + `'`, "checkpoint 700"},
		} {
			if _, err := db.Exec(tc.tamper); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			rep, err := proof.VerifyStoredTree(ctx, db)
			if err != nil || rep.Problem == nil || !strings.Contains(rep.Problem.Detail, tc.want) {
				t.Fatalf("%s: %+v %v", tc.name, rep, err)
			}
			if _, err := db.Exec(tc.undo); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
		if rep, err := proof.VerifyStoredTree(ctx, db); err != nil || rep.Problem != nil {
			t.Fatalf("restored: %+v %v", rep, err)
		}
	})
}

// flipHex changes the hex digit at i.
func flipHex(s string, i int) string {
	c := byte('0')
	if s[i] == '0' {
		c = '1'
	}
	return s[:i] + string(c) + s[i+1:]
}
