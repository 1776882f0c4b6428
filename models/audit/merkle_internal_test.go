package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// TestTreeAccMatchesCompactRange checks the allocation-free accumulator
// against the library's compact range and its RFC 6962 hasher, size by size.
func TestTreeAccMatchesCompactRange(t *testing.T) {
	rng := newRangeFactory().NewEmptyRange(0)
	var acc treeAcc
	if r := acc.root(); !bytes.Equal(r[:], rfc6962.DefaultHasher.EmptyRoot()) {
		t.Fatalf("empty root %x", r)
	}
	for i := 0; i < 1100; i++ {
		raw := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		var leaf [HashSize]byte
		leafHashOf(&leaf, &raw)
		if want := rfc6962.DefaultHasher.HashLeaf(raw[:]); !bytes.Equal(leaf[:], want) {
			t.Fatalf("leaf %d: %x, want %x", i, leaf, want)
		}
		if lh, _ := LeafHash(hex.EncodeToString(raw[:])); !bytes.Equal(lh, leaf[:]) {
			t.Fatalf("LeafHash %d differs", i)
		}
		acc.add(&leaf)
		if err := rng.Append(leaf[:], nil); err != nil {
			t.Fatal(err)
		}
		want, _ := rng.GetRootHash(nil)
		if got := acc.root(); !bytes.Equal(got[:], want) {
			t.Fatalf("size %d: root %x, want %x", i+1, got, want)
		}
		hs := acc.hashes()
		if len(hs) != len(rng.Hashes()) {
			t.Fatalf("size %d: %d compact hashes, want %d", i+1, len(hs), len(rng.Hashes()))
		}
		for j := range hs {
			if !bytes.Equal(hs[j], rng.Hashes()[j]) {
				t.Fatalf("size %d: compact hash %d differs", i+1, j)
			}
		}
		var again treeAcc
		if err := again.set(acc.size, hs); err != nil || again.root() != acc.root() {
			t.Fatalf("size %d: set/root round trip failed: %v", i+1, err)
		}
	}
}

func TestCompactRootRejectsWrongShape(t *testing.T) {
	if _, err := compactRoot(5, [][]byte{make([]byte, 32)}); err == nil {
		t.Fatal("size 5 with one hash accepted")
	}
	if _, err := compactRoot(4, [][]byte{make([]byte, 31)}); err == nil {
		t.Fatal("short hash accepted")
	}
}

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
		r := newRangeFactory().NewEmptyRange(0)
		for _, l := range leaves[b:e] {
			_ = r.Append(l, nil)
		}
		h, _ := r.GetRootHash(nil)
		return h
	}
	root := func(n uint64) []byte {
		r := newRangeFactory().NewEmptyRange(0)
		for _, l := range leaves[:n] {
			_ = r.Append(l, nil)
		}
		h, _ := r.GetRootHash(nil)
		return h
	}
	for _, sizes := range [][2]uint64{{1, 2}, {3, 7}, {4, 8}, {100, 350}, {256, 512}, {350, 600}, {511, 700}, {5, 699}} {
		m, n := sizes[0], sizes[1]
		nodes, _ := proof.Consistency(m, n)
		hs := make([][]byte, len(nodes.IDs))
		for i, id := range nodes.IDs {
			hs[i] = node(id)
		}
		want, _ := nodes.Rehash(hs, rfc6962.DefaultHasher.HashChildren)

		// The encoder sees leaves [0, m), a checkpoint at m announcing n,
		// then leaves up to n.
		rng := newRangeFactory().NewEmptyRange(0)
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
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, m, n, got, root(m), root(n)); err != nil {
			t.Fatalf("%d→%d: %v", m, n, err)
		}
	}
}

func testFields() *Fields {
	return &Fields{Seq: 42, AtUnixUS: -7, Type: []byte("request.approved"), ActorType: []byte("human"), ActorID: []byte("u-1"),
		ActorDisplay: []byte("Zoë \"the\" approver\\\n\t\x01"), RequestID: []byte("REQ-1"), Purpose: []byte("INC-4211 </script> ✓ 💥"),
		Action: []byte("restart"), PolicyRef: []byte(""), Payload: []byte(`{"a":"b\"c","n":1}`), PrevHash: []byte(GenesisHash)}
}

func TestEventJSONRoundTrip(t *testing.T) {
	f := testFields()
	f.Action = []byte{0xff, 'x', 0xfe} // not UTF-8: written as action_b64
	hash := NewHasher().Sum(f)
	line := appendEventJSON(nil, f, hash, true)
	if !bytes.HasPrefix(line, []byte(eventLinePrefix)) || !bytes.Contains(line, []byte(`"action_b64":`)) {
		t.Fatalf("line %s", line)
	}
	var p eventParser
	if err := p.parse(line); err != nil {
		t.Fatalf("parse %s: %v", line, err)
	}
	if got := NewHasher().Sum(&p.f); !bytes.Equal(got, hash) || !bytes.Equal(p.hash, hash) {
		t.Fatalf("round trip changed the event: %+v", p.f)
	}
	// encoding/json reads the same values (except the base64 field).
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatal(err)
	}
	if m["actor_display"] != string(f.ActorDisplay) || m["purpose"] != string(f.Purpose) || m["payload"] != string(f.Payload) {
		t.Fatalf("encoding/json reads %v", m)
	}
	// What encoding/json writes (escaped <, \u sequences) parses too.
	std, _ := json.Marshal(map[string]any{"kind": "event", "seq": 42, "at_unix_us": -7, "type": "request.approved",
		"actor_type": "human", "actor_id": "u-1", "actor_display": string(f.ActorDisplay), "request_id": "REQ-1",
		"purpose": string(f.Purpose), "action_b64": "/3j+", "policy_ref": "", "payload": string(f.Payload),
		"prev_hash": GenesisHash, "hash": string(hash)})
	std = bytes.ReplaceAll(std, []byte("✓"), []byte(`\u2713`))
	std = bytes.ReplaceAll(std, []byte("💥"), []byte(`\ud83d\udca5`))
	if err := p.parse(append(append([]byte(" \t"), std...), "\r"...)); err != nil {
		t.Fatalf("parse %s: %v", std, err)
	}
	if got := NewHasher().Sum(&p.f); !bytes.Equal(got, hash) {
		t.Fatalf("encoding/json form hashes differently: %+v", p.f)
	}
	var ev Event
	if err := json.Unmarshal(appendEventJSON(nil, f, hash, false), &ev); err != nil || ev.Seq != 42 || ev.Action != string(f.Action) {
		t.Fatalf("Event unmarshal: %v %+v", err, ev)
	}
}

func TestEventParserRefusesAmbiguity(t *testing.T) {
	f := testFields()
	good := string(appendEventJSON(nil, f, NewHasher().Sum(f), true))
	cases := map[string]string{
		"duplicate key":   strings.Replace(good, `"purpose":`, `"purpose":"x","purpose":`, 1),
		"duplicate b64":   strings.Replace(good, `"purpose":`, `"purpose_b64":"eA==","purpose":`, 1),
		"unknown key":     strings.Replace(good, `"purpose":`, `"note":"x","purpose":`, 1),
		"missing key":     strings.Replace(good, `"action":"restart",`, ``, 1),
		"number as text":  strings.Replace(good, `"seq":42`, `"seq":"42"`, 1),
		"float seq":       strings.Replace(good, `"seq":42`, `"seq":42.0`, 1),
		"leading zero":    strings.Replace(good, `"seq":42`, `"seq":042`, 1),
		"overflow":        strings.Replace(good, `"seq":42`, `"seq":9223372036854775808`, 1),
		"null":            strings.Replace(good, `"policy_ref":""`, `"policy_ref":null`, 1),
		"bad escape":      strings.Replace(good, `"type":"request.approved"`, `"type":"re\q"`, 1),
		"not closed":      good[:len(good)-1],
		"trailing data":   good + `{}`,
		"other kind":      strings.Replace(good, `"kind":"event"`, `"kind":"evil"`, 1),
		"unclosed string": good[:40],
	}
	for name, line := range cases {
		var p eventParser
		if err := p.parse([]byte(line)); err == nil {
			t.Errorf("%s: accepted %s", name, line)
		}
	}
}

func TestEventParserAllocatesNothing(t *testing.T) {
	f := testFields()
	line := appendEventJSON(nil, f, NewHasher().Sum(f), true)
	var p eventParser
	x := NewHasher()
	if n := testing.AllocsPerRun(100, func() {
		if err := p.parse(line); err != nil {
			t.Fatal(err)
		}
		x.Sum(&p.f)
	}); n != 0 {
		t.Fatalf("%v allocations per event", n)
	}
}
