// Package audit keeps Countersign's tamper-evident audit log: one linear
// hash chain of events, appended inside the same transaction as the change
// each event records, and verified by walking the chain.
package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
)

// GenesisHash is the previous-hash of the first event.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// domain separates Countersign audit hashes from any other SHA-256 use.
const domain = "countersign.audit.v1\x00"

// Hasher computes event hashes without allocating per event; one Hasher
// serves one goroutine.
//
// The hashed bytes are: the domain string, seq and time as 8-byte
// big-endian integers, then each text field as a uvarint length followed by
// its bytes, in a fixed order, ending with the previous hash. Length prefixes
// make the encoding unambiguous: no two different events share an encoding.
type Hasher struct {
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
	hex [sha256.Size * 2]byte
}

// NewHasher returns a ready Hasher.
func NewHasher() *Hasher { return &Hasher{h: sha256.New(), buf: make([]byte, 0, 1024)} }

// Fields are the hashed parts of an event, as byte slices so that a verifier
// can hash rows straight from the database driver.
type Fields struct {
	Seq          int64
	AtUnixUS     int64
	Type         []byte
	ActorType    []byte
	ActorID      []byte
	ActorDisplay []byte
	RequestID    []byte
	Purpose      []byte
	Action       []byte
	PolicyRef    []byte
	Payload      []byte
	PrevHash     []byte
}

// texts returns the text fields in the order they are hashed, which is
// also their order in an event's JSON (eventKeys from keyType on).
func (f *Fields) texts() [10]*[]byte {
	return [...]*[]byte{&f.Type, &f.ActorType, &f.ActorID, &f.ActorDisplay, &f.RequestID, &f.Purpose, &f.Action, &f.PolicyRef, &f.Payload, &f.PrevHash}
}

// Sum returns the lowercase hex hash of f. The returned slice is owned by
// the Hasher and valid until the next call.
func (x *Hasher) Sum(f *Fields) []byte {
	b := x.buf[:0]
	b = append(b, domain...)
	b = binary.BigEndian.AppendUint64(b, uint64(f.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(f.AtUnixUS))
	for _, field := range f.texts() {
		b = binary.AppendUvarint(b, uint64(len(*field)))
		b = append(b, *field...)
	}
	x.buf = b
	x.h.Reset()
	x.h.Write(b)
	x.h.Sum(x.sum[:0])
	hex.Encode(x.hex[:], x.sum[:])
	return x.hex[:]
}

// Raw returns the raw SHA-256 of the last Sum call (valid until the next
// call): verifiers that feed the hash into a Merkle tree skip decoding hex.
func (x *Hasher) Raw() *[sha256.Size]byte { return &x.sum }

// Encoded returns the bytes hashed by the last Sum call (for measuring raw
// SHA-256 over the same bytes).
func (x *Hasher) Encoded() []byte { return x.buf }
