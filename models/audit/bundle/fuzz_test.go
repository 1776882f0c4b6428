package bundle_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/bundle"
	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/models/storetest"
)

// fuzzSignerKey signs the checkpoints of the fuzz targets' bundles and
// receipts. It is a test key, published here so that every fuzzing
// process builds byte-identical material and corpus files stay valid; it
// signs nothing else.
const fuzzSignerKey = "PRIVATE+KEY+countersign.test/fuzz+f67af15c+AXnJ68xhkWb94JfeKi9kZPI3I6y9fiwQrYIU8V8sJfvR"

// fuzzMaterial is a small real log exported as bundles and receipts.
type fuzzMaterial struct {
	vkey     string
	bundles  [][]byte // events 1–12 and 3–11 (the latter with a left edge and an anchor)
	views    []*bundleView
	receipts [][]byte // events 3 and 5
	parsed   []*proof.Receipt
}

// newFuzzMaterial writes 12 events (one with a tab, quotes and control
// characters, one with bytes that are not UTF-8), checkpoints at 5, 10 and
// 12, then exports two bundles and two receipts, and checks that they
// verify.
func newFuzzMaterial(f testing.TB) *fuzzMaterial {
	f.Helper()
	ctx := context.Background()
	key, err := proof.ParseKey(fuzzSignerKey)
	if err != nil {
		f.Fatal(err)
	}
	s := storetest.SQLite(f).Open(f)
	c, err := proof.NewCheckpointer(s, key)
	if err != nil {
		f.Fatal(err)
	}
	add := func(from, to int) {
		err := s.WithTx(ctx, func(tx *gorm.DB) error {
			for i := from; i <= to; i++ {
				purpose := fmt.Sprintf("INC-%d", 4000+i)
				switch i {
				case 3:
					purpose = "tab\there, \x01 \"quoted\" \\ é ✓"
				case 5:
					purpose = "not UTF-8: \xff\xfe"
				}
				_, err := audit.Append(tx, time.Unix(1_795_000_000+int64(i), 0), audit.Entry{
					Type: "request.approved", Actor: models.Actor{Type: models.ActorAgent, ID: "deploy-bot", Display: "Deploy Bot"},
					RequestID: fmt.Sprintf("REQ-%d", i), Purpose: purpose, Action: "restart", PolicyRef: "prod",
					Payload: map[string]any{"i": i, "note": "line\nbreak"},
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			f.Fatal(err)
		}
	}
	sign := func() {
		if _, err := c.Checkpoint(ctx); err != nil {
			f.Fatal(err)
		}
	}
	add(1, 5)
	sign()
	add(6, 10)
	sign()
	add(11, 12)
	m := &fuzzMaterial{vkey: key.VerifierKey()}
	for _, r := range [][2]int64{{1, 12}, {3, 11}} {
		var buf bytes.Buffer
		if err := bundle.Write(ctx, c, &buf, r[0], r[1]); err != nil {
			f.Fatal(err)
		}
		rep, err := verifyFuzzBundle(buf.Bytes(), m.vkey)
		if err != nil || !rep.Valid() {
			f.Fatalf("bundle %d–%d does not verify: %v %+v", r[0], r[1], err, rep)
		}
		v, err := readBundleView(buf.Bytes(), m.vkey)
		if err != nil {
			f.Fatalf("bundle %d–%d: %v", r[0], r[1], err)
		}
		m.bundles, m.views = append(m.bundles, buf.Bytes()), append(m.views, v)
	}
	for _, seq := range []int64{3, 5} {
		r, err := c.Receipt(ctx, seq)
		if err != nil {
			f.Fatal(err)
		}
		data, err := json.MarshalIndent(r, "", " ")
		if err != nil {
			f.Fatal(err)
		}
		if err := proof.VerifyReceipt(r, m.vkey); err != nil {
			f.Fatalf("receipt %d does not verify: %v", seq, err)
		}
		m.receipts, m.parsed = append(m.receipts, data), append(m.parsed, r)
	}
	return m
}

// verifyFuzzBundle checks a bundle on one core: the fuzzing machine's other
// core is someone else's.
func verifyFuzzBundle(data []byte, vkey string) (*bundle.Report, error) {
	return (&bundle.Verifier{Keys: []string{vkey}, Workers: 1}).Verify(bytes.NewReader(data))
}

// FuzzVerifyBundle feeds bundles to the offline verifier: arbitrary bytes,
// and mutations of two real bundles. Whatever the input, the report must
// be consistent with itself. A bundle reported valid must tell the story
// of an original one as any JSON reader sees it: the same header range,
// the same events field by field, and only checkpoints the key signed.
// Bytes that no signature covers (spacing, the header's creation time and
// informational key list, escapes that decode alike) may differ.
func FuzzVerifyBundle(f *testing.F) {
	m := newFuzzMaterial(f)
	for _, b := range m.bundles {
		f.Add(b)
		lines := bytes.SplitAfter(b, []byte("\n"))
		f.Add(bytes.Join(lines[:len(lines)/2], nil))                                         // cut short
		f.Add(bytes.Join(append(slices.Clone(lines[:3]), lines[4:]...), nil))                // an event dropped
		f.Add(bytes.Replace(b, []byte(`"request.approved"`), []byte(`"request.denied"`), 1)) // an event edited
	}
	f.Add([]byte{})
	f.Add([]byte("\n\n"))
	f.Add([]byte(`{"kind":"header"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := verifyFuzzBundle(data, m.vkey)
		if err != nil {
			t.Fatalf("Verify: %v (only unusable keys or a failed read are errors)", err)
		}
		checkReport(t, rep)
		if !rep.Valid() {
			return
		}
		v, err := readBundleView(data, m.vkey)
		if err != nil {
			t.Fatalf("reported valid, but a JSON reader cannot read it: %v\n%q", err, data)
		}
		for _, o := range m.views {
			if v.sameStory(o) {
				return
			}
		}
		t.Fatalf("reported valid, but it is no original bundle:\n%q", data)
	})
}

// checkReport checks that a report agrees with itself.
func checkReport(t *testing.T, rep *bundle.Report) {
	t.Helper()
	n := len(rep.Findings)
	for _, f := range rep.Findings {
		checkFinding(t, f)
	}
	for _, r := range rep.Ranges {
		if r.Problems < len(r.Findings) || (r.Problems == 0) != r.Valid() {
			t.Fatalf("range %+v", r)
		}
		for _, f := range r.Findings {
			checkFinding(t, f)
		}
		n += r.Problems
	}
	if rep.Problems != n || (rep.Problems == 0) != rep.Valid() || rep.ValidRanges() > len(rep.Ranges) {
		t.Fatalf("report counts %d problems, its parts %d: %+v", rep.Problems, n, rep)
	}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if want := map[bool]string{true: "bundle VALID\n", false: "bundle INVALID\n"}[rep.Valid()]; !strings.HasSuffix(text.String(), want) {
		t.Fatalf("report text does not end in %q:\n%s", want, text.String())
	}
}

func checkFinding(t *testing.T, f bundle.Finding) {
	t.Helper()
	if f.Kind.Label() == "" || strings.TrimSpace(f.Detail) == "" || f.Line < 0 {
		t.Fatalf("finding %+v", f)
	}
}

// bundleView is a bundle as a plain JSON reader sees it.
type bundleView struct {
	origin, prevHash string
	from, to         json.Number
	// events are each event's fields, "_b64" ones decoded, numbers as
	// written.
	events []map[string]string
	// checkpoints are "size root" of each signed note.
	checkpoints []string
}

// readBundleView reads data as a JSON Lines reader would: every line must
// be one JSON object or empty (JSON white space only).
func readBundleView(data []byte, vkey string) (*bundleView, error) {
	v := &bundleView{}
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.Trim(line, " \t\r")) == 0 {
			continue
		}
		var obj map[string]any
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if !json.Valid(line) || dec.Decode(&obj) != nil {
			return nil, fmt.Errorf("line %d is not a JSON object: %q", i+1, line)
		}
		str := func(k string) string { s, _ := obj[k].(string); return s }
		switch str("kind") {
		case "header":
			v.origin, v.prevHash = str("origin"), str("prev_hash")
			v.from, _ = obj["from"].(json.Number)
			v.to, _ = obj["to"].(json.Number)
		case "event":
			ev := map[string]string{}
			for k, x := range obj {
				switch x := x.(type) {
				case string:
					if name, ok := strings.CutSuffix(k, "_b64"); ok {
						b, err := base64.StdEncoding.DecodeString(x)
						if err != nil {
							return nil, fmt.Errorf("line %d: %s: %v", i+1, k, err)
						}
						k, x = name, string(b)
					}
					ev[k] = x
				case json.Number:
					ev[k] = x.String()
				default:
					return nil, fmt.Errorf("line %d: %s is %T", i+1, k, x)
				}
			}
			v.events = append(v.events, ev)
		case "checkpoint":
			cp, err := proof.OpenCheckpoint([]byte(str("note")), vkey)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", i+1, err)
			}
			v.checkpoints = append(v.checkpoints, fmt.Sprintf("%d %x", cp.Size, cp.Root))
		}
	}
	return v, nil
}

// sameStory reports whether v has o's header range, o's events, and only
// checkpoints of o.
func (v *bundleView) sameStory(o *bundleView) bool {
	if v.origin != o.origin || v.prevHash != o.prevHash || v.from.String() != o.from.String() || v.to.String() != o.to.String() ||
		!slices.EqualFunc(v.events, o.events, func(a, b map[string]string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }) {
		return false
	}
	for _, c := range v.checkpoints {
		if !slices.Contains(o.checkpoints, c) {
			return false
		}
	}
	return true
}

// TestBundleReportListsEveryProblemItCounts: FuzzVerifyBundle found two
// ways for a problem to be counted but listed nowhere, both when no event
// follows the last checkpoint (or the header): the end line's count of
// events after an event was dropped from a bundle that ends on a
// checkpoint (the report said "3 problems" and showed 2), and a last line
// cut off right after the header.
func TestBundleReportListsEveryProblemItCounts(t *testing.T) {
	m := newFuzzMaterial(t)
	lines := bytes.SplitAfter(m.bundles[0], []byte("\n"))
	cases := []struct {
		name, bundle, finding, text string
	}{
		{"event dropped", string(bytes.Join(append(slices.Clone(lines[:3]), lines[4:]...), nil)), "the end line counts 12 events", ""},
		{"line cut off after the header", `{"kind":"header","format":"countersign-audit-bundle/1","origin":"0","from":1,"to":1,` +
			`"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000"}` + "\n0",
			"the last line is cut off", "Lines after the header, before any event (no checkpoint): INVALID\n  truncated bundle at line 2: the last line is cut off"},
	}
	for _, c := range cases {
		rep, err := verifyFuzzBundle([]byte(c.bundle), m.vkey)
		if err != nil {
			t.Fatal(err)
		}
		listed, details := len(rep.Findings), ""
		for _, f := range rep.Findings {
			details += f.Detail + "\n"
		}
		for _, r := range rep.Ranges {
			listed += len(r.Findings)
			for _, f := range r.Findings {
				details += f.Detail + "\n"
			}
		}
		var text strings.Builder
		if err := rep.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		if rep.Valid() || rep.Problems != listed || !strings.Contains(details, c.finding) || !strings.Contains(text.String(), c.text) {
			t.Errorf("%s: %d problems, %d listed:\n%s", c.name, rep.Problems, listed, text.String())
		}
	}
}

// TestRawBytesThatAreNotUTF8AreRefused: a field with bytes that are not
// UTF-8 is written base64 under "<key>_b64"; written raw instead, it hashed
// the same and verified, while encoding/json read U+FFFD there (and other
// readers refuse the line). Found by checking FuzzReceipt's and
// FuzzVerifyBundle's "a plain JSON reader sees the same event" on such a
// rewrite of the material's event 5.
func TestRawBytesThatAreNotUTF8AreRefused(t *testing.T) {
	m := newFuzzMaterial(t)
	r, n := rawPurpose(m.receipts[1])
	if n != 1 {
		t.Fatalf("%d purpose_b64 fields in the receipt", n)
	}
	if p, err := proof.ParseReceipt(r); err == nil {
		if err := proof.VerifyReceipt(p, m.vkey); err == nil {
			t.Error("a receipt with raw bytes that are not UTF-8 verified")
		}
	}
	b, n := rawPurpose(m.bundles[0])
	if n != 1 {
		t.Fatalf("%d purpose_b64 fields in the bundle", n)
	}
	if rep, err := verifyFuzzBundle(b, m.vkey); err != nil || rep.Valid() {
		t.Errorf("a bundle with raw bytes that are not UTF-8: %v, valid %v", err, rep.Valid())
	}
}

// rawPurpose writes the non-UTF-8 purpose of event 5 raw instead of
// base64, and says how many fields it rewrote.
func rawPurpose(data []byte) ([]byte, int) {
	re := regexp.MustCompile(`"purpose_b64": ?"[^"]*"`)
	n := len(re.FindAll(data, -1))
	return re.ReplaceAll(data, []byte("\"purpose\":\"not UTF-8: \xff\xfe\"")), n
}

// FuzzReceipt feeds receipts to ParseReceipt and VerifyReceipt: arbitrary
// bytes and mutations of two real receipts. Every refusal is a *Problem
// with a detail; a receipt that verifies must be valid JSON that a plain
// JSON reader reads as the same event, and prove what an original proves:
// the same event, index, tree size, proof and signed checkpoint.
func FuzzReceipt(f *testing.F) {
	m := newFuzzMaterial(f)
	for _, r := range m.receipts {
		f.Add(r)
		f.Add(bytes.Replace(r, []byte(`"leaf_index": `), []byte(`"leaf_index": 1`), 1))
		f.Add(bytes.Replace(r, []byte(`"format"`), []byte(`"Format"`), 1))
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"event":{"seq":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := proof.ParseReceipt(data)
		if err == nil {
			err = proof.VerifyReceipt(r, m.vkey)
		}
		if err != nil {
			var p *audit.Problem
			if !errors.As(err, &p) || p.Kind.Label() == "" || strings.TrimSpace(p.Detail) == "" {
				t.Fatalf("refusal %#v is not a Problem with a detail", err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("verified, but it is not valid JSON: %q", data)
		}
		checkPlainRead(t, data, &r.Event)
		cp, err := proof.OpenCheckpoint([]byte(r.Checkpoint), m.vkey)
		if err != nil {
			t.Fatalf("verified with a checkpoint that does not open: %v", err)
		}
		for _, o := range m.parsed {
			ocp, _ := proof.OpenCheckpoint([]byte(o.Checkpoint), m.vkey)
			if r.Event == o.Event && r.LeafIndex == o.LeafIndex && r.TreeSize == o.TreeSize && r.Format == o.Format &&
				slices.EqualFunc(r.InclusionProof, o.InclusionProof, bytes.Equal) &&
				cp.Origin == ocp.Origin && cp.Size == ocp.Size && bytes.Equal(cp.Root, ocp.Root) {
				return
			}
		}
		t.Fatalf("verified, but it proves something no original receipt does:\n%q", data)
	})
}

// checkPlainRead checks that encoding/json, reading the receipt as plain
// JSON, sees the event's fields as the verifier did.
func checkPlainRead(t *testing.T, data []byte, ev *audit.Event) {
	t.Helper()
	var plain struct {
		Event map[string]any `json:"event"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&plain); err != nil {
		t.Fatalf("verified, but a JSON reader cannot read it: %v", err)
	}
	want := map[string]string{
		"seq": fmt.Sprint(ev.Seq), "at_unix_us": fmt.Sprint(ev.AtUnixUS), "type": ev.Type, "actor_type": string(ev.ActorType),
		"actor_id": ev.ActorID, "actor_display": ev.ActorDisplay, "request_id": ev.RequestID, "purpose": ev.Purpose,
		"action": ev.Action, "policy_ref": ev.PolicyRef, "payload": ev.Payload, "prev_hash": ev.PrevHash, "hash": ev.Hash,
	}
	for k, x := range plain.Event {
		got := fmt.Sprint(x)
		if name, ok := strings.CutSuffix(k, "_b64"); ok {
			b, err := base64.StdEncoding.DecodeString(got)
			if err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			k, got = name, string(b)
		}
		if got != want[k] {
			t.Fatalf("a JSON reader sees %s = %q, the verifier %q", k, got, want[k])
		}
	}
}
