package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	merkleproof "github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/countersign/countersign/models/audit/proof"
)

// TestEncoderConsistencyProofsMatchLibrary drives the bundle encoder's proof
// collection and compares with proofs built from the full tree.
func TestEncoderConsistencyProofsMatchLibrary(t *testing.T) {
	var leaves [][]byte
	for i := 0; i < 700; i++ {
		raw := sha256.Sum256([]byte{byte(i), byte(i >> 8), 1})
		leaves = append(leaves, rfc6962.DefaultHasher.HashLeaf(raw[:]))
	}
	node := func(id compact.NodeID) []byte {
		b, e := id.Coverage()
		r := proof.RangeFactory().NewEmptyRange(0)
		for _, l := range leaves[b:e] {
			_ = r.Append(l, nil)
		}
		h, _ := r.GetRootHash(nil)
		return h
	}
	root := func(n uint64) []byte {
		r := proof.RangeFactory().NewEmptyRange(0)
		for _, l := range leaves[:n] {
			_ = r.Append(l, nil)
		}
		h, _ := r.GetRootHash(nil)
		return h
	}
	for _, sizes := range [][2]uint64{{1, 2}, {3, 7}, {4, 8}, {100, 350}, {256, 512}, {350, 600}, {511, 700}, {5, 699}} {
		m, n := sizes[0], sizes[1]
		nodes, _ := merkleproof.Consistency(m, n)
		hs := make([][]byte, len(nodes.IDs))
		for i, id := range nodes.IDs {
			hs[i] = node(id)
		}
		want, _ := nodes.Rehash(hs, rfc6962.DefaultHasher.HashChildren)

		// The encoder sees leaves [0, m), a checkpoint at m announcing n,
		// then leaves up to n.
		rng := proof.RangeFactory().NewEmptyRange(0)
		for _, l := range leaves[:m] {
			_ = rng.Append(l, nil)
		}
		var out bytes.Buffer
		e := &bundleEncoder{rng: rng}
		e.json = json.NewEncoder(&out)
		e.visit = func(id compact.NodeID, hash []byte) {
			for _, i := range e.want[id] {
				e.got[i] = hash
			}
		}
		if err := e.checkpoint(int64(m), "", rng.Hashes(), int64(n), nil, nil); err != nil {
			t.Fatal(err)
		}
		for _, l := range leaves[m:n] {
			_ = e.rng.Append(l, e.visit)
		}
		if hasNil(e.got) {
			t.Fatalf("%d→%d: nodes not collected", m, n)
		}
		got, _ := e.nodes.Rehash(e.got, rfc6962.DefaultHasher.HashChildren)
		if len(got) != len(want) {
			t.Fatalf("%d→%d: %d hashes, want %d", m, n, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("%d→%d: hash %d differs", m, n, i)
			}
		}
		if err := merkleproof.VerifyConsistency(rfc6962.DefaultHasher, m, n, got, root(m), root(n)); err != nil {
			t.Fatalf("%d→%d: %v", m, n, err)
		}
	}
}
