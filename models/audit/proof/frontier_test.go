package proof_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit/audittest"
	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/models/storetest"
)

// mth is RFC 6962's Merkle tree hash over leaf hashes, written from the
// RFC's recursive definition: the reference the stored state must equal.
func mth(leaves [][proof.HashSize]byte) [proof.HashSize]byte {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := 1 << (bits.Len(uint(len(leaves)-1)) - 1) // largest power of two < n
	l, r := mth(leaves[:k]), mth(leaves[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

// referenceCompact is the compact range [0, n) as stored: the perfect
// subtrees, one per set bit of n, highest first, hex concatenated.
func referenceCompact(leaves [][proof.HashSize]byte) string {
	var out []byte
	start := 0
	for l := 63; l >= 0; l-- {
		if len(leaves)&(1<<l) != 0 {
			h := mth(leaves[start : start+1<<l])
			out = hex.AppendEncode(out, h[:])
			start += 1 << l
		}
	}
	return string(out)
}

// eventLeaves returns the leaf hash of every stored event, in order.
func eventLeaves(t testing.TB, s *models.Store) [][proof.HashSize]byte {
	t.Helper()
	var out [][proof.HashSize]byte
	for _, ev := range audittest.Events(t, s) {
		leaf, err := proof.LeafHash(ev.Hash)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, [proof.HashSize]byte(leaf))
	}
	return out
}

// checkStoredNodes compares every stored subtree with the reference and
// checks that every complete subtree of level >= 8 within the leaves is
// stored.
func checkStoredNodes(t testing.TB, s *models.Store, leaves [][proof.HashSize]byte) {
	t.Helper()
	var rows []struct {
		Level int
		Idx   int64
		Hash  string
	}
	if err := s.DB(context.Background()).Raw(`SELECT level, idx, hash FROM audit_tree_nodes`).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	have := map[[2]int64]string{}
	for _, r := range rows {
		have[[2]int64{int64(r.Level), r.Idx}] = r.Hash
	}
	want := 0
	for level := 8; 1<<level <= len(leaves); level++ {
		for idx := 0; (idx+1)<<level <= len(leaves); idx++ {
			want++
			h := mth(leaves[idx<<level : (idx+1)<<level])
			if got := have[[2]int64{int64(level), int64(idx)}]; got != hex.EncodeToString(h[:]) {
				t.Fatalf("stored subtree %d/%d = %q, want %x", level, idx, got, h)
			}
		}
	}
	if len(rows) != want {
		t.Fatalf("%d stored subtrees, want %d", len(rows), want)
	}
}

// TestAccMatchesReference: the allocation-free range, its stored form and
// the subtrees it reports equal RFC 6962 computed from scratch, for every
// size on random leaves.
func TestAccMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 1100
	leaves := make([][proof.HashSize]byte, n)
	for i := range leaves {
		for j := range leaves[i] {
			leaves[i][j] = byte(rng.Uint32())
		}
	}
	var acc proof.Acc
	visited := map[[2]uint64][proof.HashSize]byte{}
	for size := 0; size <= n; size++ {
		if root := acc.Root(); root != mth(leaves[:size]) {
			t.Fatalf("size %d: root %x, want %x", size, root, mth(leaves[:size]))
		}
		if got, want := acc.Hex(), referenceCompact(leaves[:size]); got != want {
			t.Fatalf("size %d: compact %s, want %s", size, got, want)
		}
		var back proof.Acc
		if err := back.SetHex(uint64(size), acc.Hex()); err != nil || !back.Equal(&acc) {
			t.Fatalf("size %d: SetHex(Hex()) = %v, equal %v", size, err, back.Equal(&acc))
		}
		if size == n {
			break
		}
		acc.AddVisit(&leaves[size], func(level uint, index uint64, h *[proof.HashSize]byte) {
			k := [2]uint64{uint64(level), index}
			if _, dup := visited[k]; dup {
				t.Fatalf("subtree %d/%d reported twice", level, index)
			}
			visited[k] = *h
		})
	}
	for k, h := range visited {
		if want := mth(leaves[k[1]<<k[0] : (k[1]+1)<<k[0]]); h != want {
			t.Fatalf("subtree %d/%d: %x, want %x", k[0], k[1], h, want)
		}
	}
	if len(visited) != 4+2+1 { // 1100 leaves: 4 subtrees of 256, 2 of 512, 1 of 1024
		t.Fatalf("%d subtrees reported", len(visited))
	}
	var bad proof.Acc
	if err := bad.SetHex(3, "00"); err == nil {
		t.Fatal("a short compact range was accepted")
	}
}

// TestFrontierEqualsTreeFromScratch: extended one size at a time in steps
// of random lengths, the stored state equals the tree computed from scratch
// at every size 0..N, and the subtrees it stores equal the reference.
func TestFrontierEqualsTreeFromScratch(t *testing.T) {
	audittest.EachCheckpointer(t, func(t *testing.T, s *models.Store, _ *proof.Key, c *proof.Checkpointer) {
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(3, 4))
		const n = 600
		for seeded := 0; seeded < n; {
			k := min(n-seeded, 1+rng.IntN(150))
			audittest.Seed(t, s, k, hex.EncodeToString([]byte{byte(rng.Uint32()), byte(rng.Uint32())}))
			seeded += k
		}
		leaves := eventLeaves(t, s)
		f := c.Frontier()
		for size := 0; ; {
			f.SetBatch(1 + rng.Int64N(40))
			acc, err := f.Extend(ctx, int64(size))
			if err != nil {
				t.Fatalf("extend to %d: %v", size, err)
			}
			stored, err := f.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if int(stored.Size()) != size || !stored.Equal(acc) || stored.Hex() != referenceCompact(leaves[:size]) ||
				stored.Root() != mth(leaves[:size]) {
				t.Fatalf("size %d: stored state %d %s differs from the tree from scratch", size, stored.Size(), stored.Hex())
			}
			if size == n {
				break
			}
			// Mostly one size at a time, sometimes a jump over several.
			if rng.IntN(8) == 0 {
				size = min(n, size+1+rng.IntN(30))
			} else {
				size++
			}
		}
		checkStoredNodes(t, s, leaves)
		// Past the log's end is an error, not a partial state.
		if _, err := f.Extend(ctx, n+1); err == nil {
			t.Fatal("extending past the log succeeded")
		}
	})
}

// TestFrontierConcurrentExtend: replicas on one database extending the
// stored state at once, in steps of different lengths while events are
// appended, end with the tree computed from scratch; none errs.
func TestFrontierConcurrentExtend(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		stores := []*models.Store{b.Open(t), b.Open(t)}
		audittest.Seed(t, stores[0], 1500, "a")
		key := audittest.NewKey(t, audittest.Origin)
		var fronts []*proof.Frontier
		for i := 0; i < 4; i++ {
			c := audittest.NewCheckpointer(t, stores[i%2], key)
			c.Frontier().SetBatch(int64(17 + 13*i))
			fronts = append(fronts, c.Frontier())
		}
		errs := make([]error, 5)
		storetest.Race(5, func(i int) {
			if i == 4 {
				audittest.Seed(t, stores[1], 300, "b")
				return
			}
			for round := 0; round < 3; round++ {
				if _, err := fronts[i].CatchUp(ctx); err != nil {
					errs[i] = err
					return
				}
			}
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("writer %d: %v", i, err)
			}
		}
		a, err := fronts[0].CatchUp(ctx)
		if err != nil {
			t.Fatal(err)
		}
		bst, err := fronts[1].Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		leaves := eventLeaves(t, stores[0])
		if len(leaves) != 1800 || a.Size() != 1800 || !a.Equal(bst) || a.Hex() != referenceCompact(leaves) {
			t.Fatalf("after racing: %d events, stored %d / %d, equal %v", len(leaves), a.Size(), bst.Size(), a.Equal(bst))
		}
		checkStoredNodes(t, stores[1], leaves)
	})
}
