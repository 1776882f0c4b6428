package handlers

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/countersign/countersign/models/contenthash"
)

var (
	// surrogateEscape matches the start of any \u escape of a surrogate.
	surrogateEscape = regexp.MustCompile(`(?i)\\ud[89a-f]`)
	// replacementEscape matches an escaped U+FFFD.
	replacementEscape = regexp.MustCompile(`(?i)\\ufffd`)
)

// FuzzAgentBody feeds bodies to what POST /api/v1/requests does with them
// before any lookup: bodyProblem, the strict decode into proposalForm, and
// the canonical form whose hash is the idempotency fingerprint. It checks
// that
//   - a body is refused as not text only if it has invalid UTF-8 or a
//     surrogate escape, and a body let through decodes to no U+FFFD the
//     agent did not send; one refused for its field names is an object;
//   - an accepted body's canonical form is valid UTF-8 JSON, canonical
//     itself, and decodes to the very same proposal: two bodies with one
//     fingerprint must never be two different requests, or a replay with
//     the same Idempotency-Key would answer with another request.
func FuzzAgentBody(f *testing.F) {
	for _, s := range []string{
		`{"action":"restart","params":{"service":"payments-api","env":"prod"},"purpose":"OOM loop, INC-4211","proposal_post_id":"bwhaznx8ujbmfdw1xpbpz5sezw",` +
			`"tool_calls":[{"call_id":"c1","tool":"grafana.query","input":{"q":"mem"},"output":[1,2],"status":"ok","started_at":"2026-11-27T10:00:00Z","ended_at":"2026-11-27T10:00:01Z"},` +
			`{"call_id":"c2","parent_id":"c1","tool":"kubectl.logs","input":{"pod":"p"},"output_digest":"sha256:abab","status":"ok","started_at":"2026-11-27T10:00:02Z"}]}`,
		`{"action":"a","purpose":"x\ud800"}`,
		`{"action":"a","purpose":"\ud83d\ude00 \\ud800 \ufffd"}`,
		"{\"action\":\"a\",\"purpose\":\"\xff\"}",
		`{"action":"a","params":{"n":1e2,"m":-0,"big":123456789012345678901234567890}}`,
		`{"action":"a"} {"action":"b"}`,
		`{"action":"a","ACTION":"b"}`,
		`{"action":"a","tool_calls":[{"Tool":"t"}]}`,
		`{"action":"a","admin":true}`,
		``,
		`null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		switch msg := bodyProblem(raw); {
		case msg == msgBodyNotUTF8:
			if utf8.Valid(raw) && !surrogateEscape.Match(raw) {
				t.Fatalf("refused as not text: %q", raw)
			}
			return
		case msg != "":
			// An object, whatever its numbers: 1e700 is a JSON number
			// that no float64 holds, so it is decoded as text.
			var obj map[string]any
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			whole := dec.Decode(&obj) == nil && obj != nil && dec.Decode(new(any)) == io.EOF
			if !whole || !strings.Contains(msg, "is not one") {
				t.Fatalf("refused for its fields (%s), but it is not an object: %q", msg, raw)
			}
			return
		}
		if !utf8.Valid(raw) {
			t.Fatalf("invalid UTF-8 let through: %q", raw)
		}
		checkNoReplacement(t, raw)
		form, ok := decodeProposalLikeCreate(raw)
		if !ok {
			return
		}
		canon, err := contenthash.CanonicalizeJSON(raw)
		if err != nil {
			return // Create answers 400: not canonicalizable
		}
		if !utf8.Valid(canon) || !json.Valid(canon) {
			t.Fatalf("canonical form is not UTF-8 JSON: %q", canon)
		}
		if again, err := contenthash.CanonicalizeJSON(canon); err != nil || !bytes.Equal(again, canon) {
			t.Fatalf("canonical form is not canonical: %q → %q, %v", canon, again, err)
		}
		if msg := bodyProblem(canon); msg != "" {
			t.Fatalf("canonical form refused (%s): %q", msg, canon)
		}
		form2, ok := decodeProposalLikeCreate(canon)
		if !ok {
			t.Fatalf("canonical form %q of %q does not decode", canon, raw)
		}
		if !sameProposal(form, form2) {
			t.Fatalf("one fingerprint, two proposals:\n body      %q\n canonical %q\n %+v\n %+v", raw, canon, form, form2)
		}
	})
}

// decodeProposalLikeCreate decodes a body as Create does.
func decodeProposalLikeCreate(raw []byte) (proposalForm, bool) {
	var f proposalForm
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil || dec.More() {
		return f, false
	}
	return f, true
}

// checkNoReplacement: every U+FFFD that decoding raw yields must be in
// raw, as the character or its escape.
func checkNoReplacement(t *testing.T, raw []byte) {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return
	}
	got := countReplacement(v)
	sent := bytes.Count(raw, []byte("\uFFFD")) + len(replacementEscape.FindAll(raw, -1))
	if got > sent {
		t.Fatalf("decodes to %d U+FFFD, the body has %d: %q", got, sent, raw)
	}
}

func countReplacement(v any) int {
	n := 0
	switch x := v.(type) {
	case string:
		n = strings.Count(x, "\uFFFD")
	case []any:
		for _, e := range x {
			n += countReplacement(e)
		}
	case map[string]any:
		for k, e := range x {
			n += strings.Count(k, "\uFFFD") + countReplacement(e)
		}
	}
	return n
}

// sameProposal compares two decoded bodies; tool call input and output
// are raw JSON, compared by their canonical form.
func sameProposal(a, b proposalForm) bool {
	if len(a.ToolCalls) != len(b.ToolCalls) {
		return false
	}
	for i := range a.ToolCalls {
		x, y := a.ToolCalls[i], b.ToolCalls[i]
		if !sameJSON(x.Input, y.Input) || !sameJSON(x.Output, y.Output) {
			return false
		}
		if !sameTime(x.StartedAt, y.StartedAt) || (x.EndedAt == nil) != (y.EndedAt == nil) || (x.EndedAt != nil && !sameTime(*x.EndedAt, *y.EndedAt)) {
			return false
		}
		// Parsed times hold a *time.Location per parse: compared above.
		x.Input, y.Input, x.Output, y.Output = nil, nil, nil, nil
		x.StartedAt, y.StartedAt, x.EndedAt, y.EndedAt = time.Time{}, time.Time{}, nil, nil
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	a.ToolCalls, b.ToolCalls = nil, nil
	return reflect.DeepEqual(a, b)
}

func sameTime(a, b time.Time) bool {
	return a.Equal(b) && a.Format(time.RFC3339Nano) == b.Format(time.RFC3339Nano)
}

func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	ca, errA := contenthash.CanonicalizeJSON(a)
	cb, errB := contenthash.CanonicalizeJSON(b)
	return errA == nil && errB == nil && bytes.Equal(ca, cb)
}
