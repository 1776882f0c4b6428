package audit

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func testFields() *Fields {
	return &Fields{Seq: 42, AtUnixUS: -7, Type: []byte("request.approved"), ActorType: []byte("human"), ActorID: []byte("u-1"),
		ActorDisplay: []byte("Zoë \"the\" approver\\\n\t\x01"), RequestID: []byte("REQ-1"), Purpose: []byte("INC-4211 </script> ✓ 💥"),
		Action: []byte("restart"), PolicyRef: []byte(""), Payload: []byte(`{"a":"b\"c","n":1}`), PrevHash: []byte(GenesisHash)}
}

func TestEventJSONRoundTrip(t *testing.T) {
	f := testFields()
	f.Action = []byte{0xff, 'x', 0xfe} // not UTF-8: written as action_b64
	hash := NewHasher().Sum(f)
	line := AppendEventJSON(nil, f, hash, true)
	if !bytes.HasPrefix(line, []byte(EventLinePrefix)) || !bytes.Contains(line, []byte(`"action_b64":`)) {
		t.Fatalf("line %s", line)
	}
	var p EventParser
	if err := p.Parse(line); err != nil {
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
	if err := p.Parse(append(append([]byte(" \t"), std...), "\r"...)); err != nil {
		t.Fatalf("parse %s: %v", std, err)
	}
	if got := NewHasher().Sum(&p.f); !bytes.Equal(got, hash) {
		t.Fatalf("encoding/json form hashes differently: %+v", p.f)
	}
	var ev Event
	if err := json.Unmarshal(AppendEventJSON(nil, f, hash, false), &ev); err != nil || ev.Seq != 42 || ev.Action != string(f.Action) {
		t.Fatalf("Event unmarshal: %v %+v", err, ev)
	}
}

func TestEventParserRefusesAmbiguity(t *testing.T) {
	f := testFields()
	good := string(AppendEventJSON(nil, f, NewHasher().Sum(f), true))
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
		var p EventParser
		if err := p.Parse([]byte(line)); err == nil {
			t.Errorf("%s: accepted %s", name, line)
		}
	}
}

func TestEventParserAllocatesNothing(t *testing.T) {
	f := testFields()
	line := AppendEventJSON(nil, f, NewHasher().Sum(f), true)
	var p EventParser
	x := NewHasher()
	if n := testing.AllocsPerRun(100, func() {
		if err := p.Parse(line); err != nil {
			t.Fatal(err)
		}
		x.Sum(&p.f)
	}); n != 0 {
		t.Fatalf("%v allocations per event", n)
	}
}
