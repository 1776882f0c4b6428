package proof

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"
)

// TestTreeAccMatchesCompactRange checks the allocation-free accumulator
// against the library's compact range and its RFC 6962 hasher, size by size.
func TestTreeAccMatchesCompactRange(t *testing.T) {
	rng := RangeFactory().NewEmptyRange(0)
	var acc Acc
	if r := acc.Root(); !bytes.Equal(r[:], rfc6962.DefaultHasher.EmptyRoot()) {
		t.Fatalf("empty root %x", r)
	}
	for i := 0; i < 1100; i++ {
		raw := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		var leaf [HashSize]byte
		LeafHashOf(&leaf, &raw)
		if want := rfc6962.DefaultHasher.HashLeaf(raw[:]); !bytes.Equal(leaf[:], want) {
			t.Fatalf("leaf %d: %x, want %x", i, leaf, want)
		}
		if lh, _ := LeafHash(hex.EncodeToString(raw[:])); !bytes.Equal(lh, leaf[:]) {
			t.Fatalf("LeafHash %d differs", i)
		}
		acc.Add(&leaf)
		if err := rng.Append(leaf[:], nil); err != nil {
			t.Fatal(err)
		}
		want, _ := rng.GetRootHash(nil)
		if got := acc.Root(); !bytes.Equal(got[:], want) {
			t.Fatalf("size %d: root %x, want %x", i+1, got, want)
		}
		hs := acc.Hashes()
		if len(hs) != len(rng.Hashes()) {
			t.Fatalf("size %d: %d compact hashes, want %d", i+1, len(hs), len(rng.Hashes()))
		}
		for j := range hs {
			if !bytes.Equal(hs[j], rng.Hashes()[j]) {
				t.Fatalf("size %d: compact hash %d differs", i+1, j)
			}
		}
		var again Acc
		if err := again.Set(acc.Size(), hs); err != nil || again.Root() != acc.Root() {
			t.Fatalf("size %d: set/root round trip failed: %v", i+1, err)
		}
	}
}

func TestCompactRootRejectsWrongShape(t *testing.T) {
	if _, err := CompactRoot(5, [][]byte{make([]byte, 32)}); err == nil {
		t.Fatal("size 5 with one hash accepted")
	}
	if _, err := CompactRoot(4, [][]byte{make([]byte, 31)}); err == nil {
		t.Fatal("short hash accepted")
	}
}
