package bundle_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/mod/sumdb/note"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/audittest"
	"github.com/countersign/countersign/models/audit/bundle"
	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/models/storetest"
)

// bundleLog builds a log of 700 events with checkpoints at 100, 350 and 600.
func bundleLog(t *testing.T, s *models.Store) (*proof.Checkpointer, *proof.Key) {
	t.Helper()
	k := audittest.NewKey(t, audittest.Origin)
	c := audittest.NewCheckpointer(t, s, k)
	audittest.Seed(t, s, 100, "a")
	audittest.Checkpoint(t, c)
	audittest.Seed(t, s, 250, "b")
	audittest.Checkpoint(t, c)
	audittest.Seed(t, s, 250, "c")
	audittest.Checkpoint(t, c)
	audittest.Seed(t, s, 100, "d")
	return c, k
}

func writeBundle(t *testing.T, c *proof.Checkpointer, from, to int64) string {
	t.Helper()
	var buf bytes.Buffer
	if err := bundle.Write(context.Background(), c, &buf, from, to); err != nil {
		t.Fatalf("write bundle %d–%d: %v", from, to, err)
	}
	return buf.String()
}

func verifyBundle(t *testing.T, text string, vkeys ...string) *bundle.Report {
	t.Helper()
	rep, err := bundle.Verify(strings.NewReader(text), vkeys...)
	if err != nil {
		t.Fatalf("verify bundle: %v", err)
	}
	// One worker or several, the same verdict.
	one, err := (&bundle.Verifier{Keys: vkeys, Workers: 1}).Verify(iotest.HalfReader(strings.NewReader(text)))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(one.Ranges, one.Findings, one.Problems) != fmt.Sprint(rep.Ranges, rep.Findings, rep.Problems) {
		t.Fatalf("one worker reports\n%v\nseveral report\n%v", one.Ranges, rep.Ranges)
	}
	return rep
}

// rangeShape is the expected verdict per range: "1-100@100 ok" or
// "101-350@350 hash".
func rangeShape(rep *bundle.Report) string {
	var parts []string
	for _, r := range rep.Ranges {
		verdict := "ok"
		if !r.Valid() {
			verdict = string(r.Findings[0].Kind)
		}
		parts = append(parts, fmt.Sprintf("%d-%d@%d %s", r.From, r.To, r.Checkpoint, verdict))
	}
	for _, f := range rep.Findings {
		parts = append(parts, "bundle "+string(f.Kind))
	}
	return strings.Join(parts, ", ")
}

func text(t *testing.T, rep *bundle.Report) string {
	t.Helper()
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestBundleRoundTrip(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		c, k := bundleLog(t, s)
		for _, tc := range []struct {
			from, to int64
			shape    string
		}{
			// The whole log: the head (700) is signed for the bundle.
			{0, 0, "1-100@100 ok, 101-350@350 ok, 351-600@600 ok, 601-700@700 ok"},
			// A range in the middle, anchored by a later checkpoint.
			{120, 650, "120-350@350 ok, 351-600@600 ok, 601-650@700 ok"},
			{1, 50, "1-50@100 ok"},
			{351, 351, "351-351@600 ok"},
			{600, 600, "600-600@600 ok"},
			{2, 700, "2-100@100 ok, 101-350@350 ok, 351-600@600 ok, 601-700@700 ok"},
		} {
			out := writeBundle(t, c, tc.from, tc.to)
			rep := verifyBundle(t, out, k.VerifierKey())
			if got := rangeShape(rep); got != tc.shape || !rep.Valid() {
				t.Fatalf("%d–%d: %s, want %s\n%s", tc.from, tc.to, got, tc.shape, text(t, rep))
			}
		}
		rep := verifyBundle(t, writeBundle(t, c, 0, 0), k.VerifierKey())
		out := text(t, rep)
		if rep.Events != 700 || rep.Checkpoints != 4 || rep.Origin != audittest.Origin || !strings.Contains(out, "Results: 4/4 ranges valid, 700 events, 4 checkpoints, 0 problems: bundle VALID") {
			t.Fatalf("report:\n%s", out)
		}
		if _, err := bundle.Verify(strings.NewReader(writeBundle(t, c, 0, 0))); err == nil {
			t.Fatal("verification without a trusted key")
		}
	})
}

// lineOf returns the 1-based line number of the first line containing s.
func lineOf(t *testing.T, lines []string, s string) int64 {
	t.Helper()
	for i, l := range lines {
		if strings.Contains(l, s) {
			return int64(i + 1)
		}
	}
	t.Fatalf("no line contains %q", s)
	return 0
}

// TestBundleTampering changes a good bundle in each way the issue lists and
// expects the report to name what and where.
func TestBundleTampering(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		c, k := bundleLog(t, s)
		good := writeBundle(t, c, 0, 0)
		lines := strings.SplitAfter(good, "\n")
		lines = lines[:len(lines)-1] // after the last newline
		ev := func(seq int) string { return fmt.Sprintf(`{"kind":"event","seq":%d,`, seq) }
		cpLine := func(size int) string { return fmt.Sprintf(`{"kind":"checkpoint","size":%d,`, size) }
		join := func(ls []string) string { return strings.Join(ls, "") }
		edit := func(i int64, fn func(string) string) string {
			ls := append([]string(nil), lines...)
			ls[i-1] = fn(ls[i-1])
			return join(ls)
		}
		l150, l200, l300, l350, l400 := lineOf(t, lines, ev(150)), lineOf(t, lines, ev(200)), lineOf(t, lines, ev(300)), lineOf(t, lines, cpLine(350)), lineOf(t, lines, ev(400))

		// A forged note for checkpoint 350 by an attacker's key of the same
		// name.
		skey, _, _ := note.GenerateKey(rand.Reader, audittest.Origin)
		signer, _ := note.NewSigner(skey)

		cases := []struct {
			name   string
			bundle string
			vkey   string
			shape  string
			// what the first finding must say
			kind audit.ProblemKind
			seq  int64
			line int64
		}{
			{
				name:   "one byte changed in an event",
				bundle: edit(l150, func(l string) string { return strings.Replace(l, `"purpose":"INC`, `"purpose":"IND`, 1) }),
				shape:  "1-100@100 ok, 101-350@350 hash, 351-600@600 ok, 601-700@700 ok",
				kind:   audit.ProblemHash, seq: 150, line: l150,
			},
			{
				name: "reordered lines",
				bundle: func() string {
					ls := append([]string(nil), lines...)
					ls[l200-1], ls[l200] = ls[l200], ls[l200-1]
					return join(ls)
				}(),
				shape: "1-100@100 ok, 101-350@350 sequence, 351-600@600 ok, 601-700@700 ok",
				kind:  audit.ProblemSequence, seq: 201, line: l200,
			},
			{
				name:   "deleted event",
				bundle: join(append(append([]string(nil), lines[:l300-1]...), lines[l300:]...)),
				shape:  "1-100@100 ok, 101-350@350 sequence, 351-600@600 ok, 601-700@700 ok, bundle sequence",
				kind:   audit.ProblemSequence, seq: 301, line: l300,
			},
			{
				name:   "duplicated event",
				bundle: join(append(append(append([]string(nil), lines[:l300]...), lines[l300-1]), lines[l300:]...)),
				shape:  "1-100@100 ok, 101-350@350 sequence, 351-600@600 ok, 601-700@700 ok, bundle sequence",
				kind:   audit.ProblemSequence, seq: 300, line: l300 + 1,
			},
			{
				name:   "truncated in a line",
				bundle: join(lines[:l400-1]) + lines[l400-1][:60],
				shape:  "1-100@100 ok, 101-350@350 ok, 351-399@0 truncated, bundle truncated",
				kind:   audit.ProblemTruncated, seq: 0, line: l400,
			},
			{
				name:   "truncated at a line end",
				bundle: join(lines[:len(lines)-1]),
				shape:  "1-100@100 ok, 101-350@350 ok, 351-600@600 ok, 601-700@700 ok, bundle truncated",
				kind:   audit.ProblemTruncated, seq: 0, line: int64(len(lines) - 1),
			},
			{
				name: "forged checkpoint signature",
				bundle: edit(l350, func(l string) string {
					i := strings.Index(l, "— ") + len("— ")
					i = strings.Index(l[i:], " ") + i + 25 // inside the base64 signature, past the key hash
					return audittest.FlipB64(l, i)
				}),
				shape: "1-100@100 ok, 101-350@350 signature, 351-600@600 ok, 601-700@700 ok",
				kind:  audit.ProblemSignature, seq: 350, line: l350,
			},
			{
				name: "checkpoint signed by another key",
				bundle: edit(l350, func(l string) string {
					i := strings.Index(l, `"note":"`) + len(`"note":"`)
					j := strings.Index(l[i:], `\n\n`) + i
					text := strings.ReplaceAll(l[i:j], `\n`, "\n") + "\n"
					msg, _ := note.Sign(&note.Note{Text: text}, signer)
					end := strings.Index(l[j:], `","compact"`) + j
					return l[:i] + strings.ReplaceAll(string(msg), "\n", `\n`) + l[end:]
				}),
				shape: "1-100@100 ok, 101-350@350 unknown-key, 351-600@600 ok, 601-700@700 ok",
				kind:  audit.ProblemUnknownKey, seq: 350, line: l350,
			},
			{
				name:   "unknown key",
				bundle: good,
				vkey:   audittest.NewKey(t, audittest.Origin).VerifierKey(),
				shape:  "1-100@100 unknown-key, 101-350@350 unknown-key, 351-600@600 unknown-key, 601-700@700 unknown-key",
				kind:   audit.ProblemUnknownKey, seq: 100, line: lineOf(t, lines, cpLine(100)),
			},
			{
				name: "chain rewritten after an edit",
				bundle: func() string {
					// Change event 150 and rehash everything after it: every
					// link holds, but the signed roots do not.
					x := audit.NewHasher()
					var out []string
					prev := ""
					for _, l := range lines {
						if strings.HasPrefix(l, `{"kind":"event"`) {
							var e audit.Event
							if err := e.UnmarshalJSON([]byte(strings.Replace(strings.TrimSpace(l), `"kind":"event",`, "", 1))); err != nil {
								t.Fatal(err)
							}
							if e.Seq == 150 {
								e.Purpose = "nothing happened"
							}
							if e.Seq > 150 {
								e.PrevHash = prev
							}
							if e.Seq >= 150 {
								e.Hash = string(x.Sum(e.Fields()))
							}
							prev = e.Hash
							j, _ := e.MarshalJSON()
							l = `{"kind":"event",` + string(j[1:]) + "\n"
						}
						out = append(out, l)
					}
					return join(out)
				}(),
				shape: "1-100@100 ok, 101-350@350 root, 351-600@600 root, 601-700@700 root",
				kind:  audit.ProblemRoot, seq: 350, line: l350,
			},
			{
				name: "consistency proof altered",
				bundle: edit(lineOf(t, lines, cpLine(600)), func(l string) string {
					i := strings.Index(l, `"consistency":["`) + len(`"consistency":["`) + 3
					return audittest.FlipB64(l, i)
				}),
				shape: "1-100@100 ok, 101-350@350 ok, 351-600@600 consistency, 601-700@700 ok",
				kind:  audit.ProblemConsistency, seq: 600, line: lineOf(t, lines, cpLine(600)),
			},
			{
				name:   "header range altered",
				bundle: edit(1, func(l string) string { return strings.Replace(l, `"to":700`, `"to":800`, 1) }),
				shape:  "1-100@100 ok, 101-350@350 ok, 351-600@600 ok, 601-700@700 ok, bundle truncated",
				kind:   audit.ProblemTruncated, seq: 700, line: int64(len(lines)),
			},
			{
				name: "checkpoint line with two notes",
				bundle: edit(l350, func(l string) string {
					return strings.Replace(l, `"note":`, `"note":"forged\n","note":`, 1)
				}),
				// Unreadable, so events 101–600 are one range, checked
				// against the root at 600 but INVALID; the end line counts
				// one checkpoint more than could be read.
				shape: "1-100@100 ok, 101-600@600 malformed, 601-700@700 ok, bundle sequence",
				kind:  audit.ProblemMalformed, seq: 0, line: l350,
			},
			{
				name:   "not a bundle",
				bundle: "hello\n" + good,
				shape:  "bundle malformed",
				kind:   audit.ProblemMalformed, seq: 0, line: 1,
			},
		}
		for _, tc := range cases {
			t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
				if tc.bundle == good && tc.vkey == "" {
					t.Fatal("case does not change anything")
				}
				vkey := k.VerifierKey()
				if tc.vkey != "" {
					vkey = tc.vkey
				}
				rep := verifyBundle(t, tc.bundle, vkey)
				out := text(t, rep)
				if rep.Valid() || !strings.Contains(out, "bundle INVALID") {
					t.Fatalf("tampering not detected:\n%s", out)
				}
				if got := rangeShape(rep); got != tc.shape {
					t.Fatalf("ranges %s\nwant   %s\n%s", got, tc.shape, out)
				}
				var first bundle.Finding
				for _, r := range rep.Ranges {
					if !r.Valid() {
						first = r.Findings[0]
						break
					}
				}
				if first.Kind == "" {
					first = rep.Findings[0]
				}
				if first.Kind != tc.kind || first.Seq != tc.seq || first.Line != tc.line {
					t.Fatalf("first finding %+v, want %s at event %d line %d\n%s", first, tc.kind, tc.seq, tc.line, out)
				}
			})
		}
	})
}

// TestBundleFromTamperedDatabase: an event edited in the database after it
// was signed shows up in the exported bundle, in its range only.
func TestBundleFromTamperedDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		s := b.Open(t)
		c, k := bundleLog(t, s)
		audittest.Checkpoint(t, c) // sign the head, 700
		if err := s.DB(context.Background()).Exec(`UPDATE audit_events SET purpose = 'routine' WHERE seq = 420`).Error; err != nil {
			t.Fatal(err)
		}
		rep := verifyBundle(t, writeBundle(t, c, 0, 0), k.VerifierKey())
		if got, want := rangeShape(rep), "1-100@100 ok, 101-350@350 ok, 351-600@600 hash, 601-700@700 ok"; got != want {
			t.Fatalf("ranges %s, want %s\n%s", got, want, text(t, rep))
		}
		if f := rep.Ranges[2].Findings[0]; f.Seq != 420 {
			t.Fatalf("finding %v", f)
		}
		// A history rewritten in the database after the checkpoint at 100
		// was signed: the server signs the rewritten head (its chain
		// verifies), but the old checkpoint no longer matches the events
		// and the new ones are not consistent with it.
		s2 := audittest.FreshStore(t, b)
		c2 := audittest.NewCheckpointer(t, s2, k)
		audittest.Seed(t, s2, 100, "a")
		audittest.Checkpoint(t, c2)
		audittest.Seed(t, s2, 50, "b")
		audittest.RewriteFrom(t, s2, 40, "forged")
		if err := s2.DB(context.Background()).Exec(`DELETE FROM audit_tree_nodes`).Error; err != nil {
			t.Fatal(err)
		}
		// The attacker needs the checkpointer to start over for the
		// rewritten events to be signed: hide the old checkpoint, sign,
		// then put it back next to the new one.
		db := s2.DB(context.Background())
		var saved struct {
			Size                              int64
			RootHash, HeadHash, Compact, Note string
		}
		if err := db.Raw(`SELECT size, root_hash, head_hash, compact, note FROM audit_checkpoints WHERE size = 100`).Scan(&saved).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Exec(`DELETE FROM audit_checkpoints`).Error; err != nil {
			t.Fatal(err)
		}
		audittest.Checkpoint(t, c2)
		if err := db.Exec(`INSERT INTO audit_checkpoints (size, root_hash, head_hash, compact, note, created_at) VALUES (?, ?, ?, ?, ?, CURRENT_TIMESTAMP)`,
			saved.Size, saved.RootHash, saved.HeadHash, saved.Compact, saved.Note).Error; err != nil {
			t.Fatal(err)
		}
		rep = verifyBundle(t, writeBundle(t, c2, 0, 0), k.VerifierKey())
		if got, want := rangeShape(rep), "1-100@100 root, 101-150@150 root"; got != want {
			t.Fatalf("ranges %s, want %s\n%s", got, want, text(t, rep))
		}
		var kinds []audit.ProblemKind
		for _, f := range rep.Ranges[1].Findings {
			kinds = append(kinds, f.Kind)
		}
		if fmt.Sprint(kinds) != "[root consistency]" {
			t.Fatalf("second range findings %v\n%s", kinds, text(t, rep))
		}
	})
}
