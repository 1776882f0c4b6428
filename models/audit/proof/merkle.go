package proof

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/bits"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// The Merkle tree over the audit chain.
//
// The hash chain (chain.go) proves order and contents to someone who walks
// all of it. The RFC 6962 tree over the same events lets anyone check one
// event against a signed checkpoint with about log2(n) hashes (inclusion),
// and check that a newer checkpoint only extends an older one (consistency),
// without the rest of the log.
//
// Leaf i (0-based) is the event with seq i+1. Its leaf data is the event's
// hash as 32 raw bytes (the stored hex text, decoded): the raw hash is the
// event's identity and hex only its presentation, and 0x00 || 32 bytes fits
// in one SHA-256 block, which keeps bundle verification cheap. Leaf hash =
// SHA-256(0x00 || raw), node hash = SHA-256(0x01 || left || right), exactly
// what rfc6962.DefaultHasher computes.

// HashSize is the size of event, leaf and node hashes in bytes.
const HashSize = sha256.Size

// nodeStoreLevel is the lowest tree level the checkpointer stores in
// audit_tree_nodes. Higher nodes are read, lower ones recomputed from at most
// 2^nodeStoreLevel leaves, so a proof costs a few small range reads whatever
// the size of the log, for about one stored row per 128 events.
const nodeStoreLevel = 8

// LeafHash returns the RFC 6962 leaf hash of an event given its hex hash (as
// stored and exported): SHA-256(0x00 || the 32 raw hash bytes).
func LeafHash(eventHash string) ([]byte, error) {
	var raw [HashSize]byte
	if !DecodeHash(&raw, []byte(eventHash)) {
		return nil, fmt.Errorf("audit: event hash %.16q is not 64 hex digits", eventHash)
	}
	return rfc6962.DefaultHasher.HashLeaf(raw[:]), nil
}

// EmptyRoot is the root of the tree with no leaves, SHA-256 of nothing.
func EmptyRoot() []byte { return rfc6962.DefaultHasher.EmptyRoot() }

// DecodeHash decodes 64 hex digits into dst, reporting false for anything
// else.
func DecodeHash(dst *[HashSize]byte, text []byte) bool {
	if len(text) != 2*HashSize {
		return false
	}
	_, err := hex.Decode(dst[:], text)
	return err == nil
}

// LeafHashOf sets dst to the leaf hash of a raw event hash without
// allocating (the bundle verifier runs it for every event).
func LeafHashOf(dst, raw *[HashSize]byte) {
	var b [1 + HashSize]byte
	b[0] = rfc6962.RFC6962LeafHashPrefix
	copy(b[1:], raw[:])
	*dst = sha256.Sum256(b[:])
}

// nodeHashOf returns the interior node hash of two children without
// allocating.
func nodeHashOf(left, right *[HashSize]byte) [HashSize]byte {
	var b [1 + 2*HashSize]byte
	b[0] = rfc6962.RFC6962NodeHashPrefix
	copy(b[1:], left[:])
	copy(b[1+HashSize:], right[:])
	return sha256.Sum256(b[:])
}

// RangeFactory returns the compact-range factory for RFC 6962 trees.
func RangeFactory() *compact.RangeFactory {
	return &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
}

// Acc is an allocation-free compact range [0, size): nodes[l] holds the
// perfect subtree of 2^l leaves when bit l of size is set. It computes the
// same hashes as compact.Range (the tests check that); the bundle verifier
// uses it because compact.Range allocates for every node it creates.
type Acc struct {
	size  uint64
	nodes [64][HashSize]byte
}

// Size returns the number of leaves the range covers.
func (a *Acc) Size() uint64 { return a.size }

// Reset empties the range and sets its size without nodes: after a
// compact range that could not be read, the size still counts leaves
// while the root is known to be wrong.
func (a *Acc) Reset(size uint64) { *a = Acc{size: size} }

// Add appends one leaf hash.
func (a *Acc) Add(leaf *[HashSize]byte) {
	h := *leaf
	level := 0
	for a.size&(1<<level) != 0 {
		h = nodeHashOf(&a.nodes[level], &h)
		level++
	}
	a.nodes[level] = h
	a.size++
}

// AddVisit appends one leaf hash like Add and calls visit with each
// perfect subtree it completes at nodeStoreLevel or above (level, index at
// that level, hash), the nodes the tree keeps in audit_tree_nodes.
func (a *Acc) AddVisit(leaf *[HashSize]byte, visit func(level uint, index uint64, hash *[HashSize]byte)) {
	h := *leaf
	index := a.size
	level := uint(0)
	for a.size&(1<<level) != 0 {
		h = nodeHashOf(&a.nodes[level], &h)
		level++
		index >>= 1
		if level >= nodeStoreLevel {
			visit(level, index, &h)
		}
	}
	a.nodes[level] = h
	a.size++
}

// Equal reports whether b is the same compact range as a.
func (a *Acc) Equal(b *Acc) bool {
	if a.size != b.size {
		return false
	}
	for l := 0; l < 64; l++ {
		if a.size&(1<<l) != 0 && a.nodes[l] != b.nodes[l] {
			return false
		}
	}
	return true
}

// Hex returns the compact range left to right as concatenated hex, the
// form audit_checkpoints and audit_tree_frontier store.
func (a *Acc) Hex() string {
	out := make([]byte, 0, 2*HashSize*bits.OnesCount64(a.size))
	for l := 63; l >= 0; l-- {
		if a.size&(1<<l) != 0 {
			out = hex.AppendEncode(out, a.nodes[l][:])
		}
	}
	return string(out)
}

// SetHex replaces the state with the compact range [0, size) stored as
// concatenated hex (Hex's form).
func (a *Acc) SetHex(size uint64, text string) error {
	if len(text) != 2*HashSize*bits.OnesCount64(size) {
		return fmt.Errorf("compact range of size %d needs %d hashes, got %d hex digits", size, bits.OnesCount64(size), len(text))
	}
	var next Acc
	i := 0
	for l := 63; l >= 0; l-- {
		if size&(1<<l) != 0 {
			if !DecodeHash(&next.nodes[l], []byte(text[i:i+2*HashSize])) {
				return fmt.Errorf("compact range of size %d: hash %d is not hex", size, i/(2*HashSize))
			}
			i += 2 * HashSize
		}
	}
	next.size = size
	*a = next
	return nil
}

// Root returns the tree root at the current size.
func (a *Acc) Root() [HashSize]byte {
	if a.size == 0 {
		return sha256.Sum256(nil)
	}
	low := bits.TrailingZeros64(a.size)
	h := a.nodes[low]
	for l := low + 1; l < 64; l++ {
		if a.size&(1<<l) != 0 {
			h = nodeHashOf(&a.nodes[l], &h)
		}
	}
	return h
}

// Hashes returns the compact range left to right (highest level first), the
// order compact.Range uses.
func (a *Acc) Hashes() [][]byte {
	out := make([][]byte, 0, bits.OnesCount64(a.size))
	for l := 63; l >= 0; l-- {
		if a.size&(1<<l) != 0 {
			out = append(out, append([]byte(nil), a.nodes[l][:]...))
		}
	}
	return out
}

// Set replaces the state with the compact range [0, size) given left to
// right.
func (a *Acc) Set(size uint64, hashes [][]byte) error {
	if got, want := len(hashes), bits.OnesCount64(size); got != want {
		return fmt.Errorf("compact range of size %d needs %d hashes, got %d", size, want, got)
	}
	i := 0
	for l := 63; l >= 0; l-- {
		if size&(1<<l) != 0 {
			if len(hashes[i]) != HashSize {
				return fmt.Errorf("compact range hash %d is %d bytes, want %d", i, len(hashes[i]), HashSize)
			}
			copy(a.nodes[l][:], hashes[i])
			i++
		}
	}
	a.size = size
	return nil
}

// CompactRoot folds a compact range [0, size) given left to right into the
// tree root.
func CompactRoot(size uint64, hashes [][]byte) ([]byte, error) {
	var a Acc
	if err := a.Set(size, hashes); err != nil {
		return nil, err
	}
	r := a.Root()
	return r[:], nil
}
