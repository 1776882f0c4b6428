package handlers

import (
	"strings"
	"testing"
	"time"
)

func TestClaimsApproval(t *testing.T) {
	cases := []struct {
		msg  string
		want bool
	}{
		{"Approved ✅ go ahead and scale", true},
		{"approved", true},
		{"APPROVED.", true},
		{"LGTM", true},
		{"lgtm, ship it!", true},
		{"sgtm", true},
		{"Go ahead", true},
		{"go-ahead from me", true},
		{"ship it", true},
		{"👍", true},
		{"✅", true},
		{"✔️ done", true},
		{":+1:", true},
		{":white_check_mark:", true},
		{"+1", true},
		{"I approve this change", true},
		{"looks good to me", true},
		{"you have the green light", true},
		{"security signed off on it", true},
		{"not approved", true}, // still reads like a verdict: the notice is true either way
		{"", false},
		{"payments-api pods restarting every ~4 min since 08:10, OOMKilled", false},
		{"Proposal: rotate the secret. Requesting approval in Countersign.", false},
		{"this change is unapproved", false},
		{"who approves these?", false},
		{"ahead of the release we need a restart", false},
		{"c+1 is a typo", false},
		{"shipping it tomorrow", false},
		{"/countersign restart payments-api env=prod -- OOM loop, INC-4211", false},
		{"<script>alert('approved')</script>", true},
	}
	for _, tc := range cases {
		if got := claimsApproval(tc.msg); got != tc.want {
			t.Errorf("claimsApproval(%q) = %v, want %v", tc.msg, got, tc.want)
		}
	}
}

func TestRelative(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		d    time.Duration
		want string
	}{
		{0, "just now"},
		{-10 * time.Second, "just now"},
		{10 * time.Second, "in less than a minute"},
		{-3 * time.Minute, "3 min ago"},
		{42 * time.Minute, "in 42 min"},
		{-89 * time.Minute, "89 min ago"},
		{2 * time.Hour, "in 2 h"},
		{-35 * time.Hour, "35 h ago"},
		{-3 * 24 * time.Hour, "3 days ago"},
	}
	for _, tc := range cases {
		if got := relative(now.Add(tc.d), now); got != tc.want {
			t.Errorf("relative(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	if v := timeView(time.Time{}, now); v.ISO != "" {
		t.Errorf("zero time shown as %+v", v)
	}
	local := time.Date(2026, 11, 27, 13, 0, 0, 0, time.FixedZone("CET", 3600))
	if v := timeView(local, now); v.UTC != "2026-11-27 12:00:00 UTC" || v.ISO != "2026-11-27T12:00:00Z" {
		t.Errorf("times are not shown in UTC: %+v", v)
	}
}

func TestDurationText(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		end  time.Time
		want string
	}{
		{t0.Add(250 * time.Millisecond), "250 ms"},
		{t0.Add(1500 * time.Millisecond), "1.5 s"},
		{t0.Add(2*time.Minute + 3*time.Second), "2m3s"},
		{time.Time{}, ""},
		{t0.Add(-time.Second), ""},
	}
	for _, tc := range cases {
		if got := durationText(t0, tc.end); got != tc.want {
			t.Errorf("durationText(%v) = %q, want %q", tc.end, got, tc.want)
		}
	}
}

func TestJSONBlockFoldsLongValues(t *testing.T) {
	short := jsonBlock(`{"a":1,"b":"x"}`)
	if short.Folded || short.Text != "{\n  \"a\": 1,\n  \"b\": \"x\"\n}" {
		t.Errorf("short block: %+v", short)
	}
	// A folded block still says what it holds, on one line.
	nested := jsonBlock(`{"a": 1, "b": [1, 2, 3, 4]}`)
	if !nested.Folded || nested.Summary != `{"a":1,"b":[1,2,3,4]}` {
		t.Errorf("nested block: folded %v, summary %q", nested.Folded, nested.Summary)
	}
	manyLines := jsonBlock(`[1,2,3,4,5,6,7,8,9,10,11,12]`) // 14 lines pretty-printed
	if !manyLines.Folded || manyLines.Lines != 14 {
		t.Errorf("14-line block: folded %v, %d lines", manyLines.Folded, manyLines.Lines)
	}
	big := jsonBlock(`{"log":"` + strings.Repeat("x", 900) + `"}`)
	if !big.Folded || big.Lines != 3 {
		t.Errorf("900-byte block on 3 lines: folded %v", big.Folded)
	}
	if notJSON := jsonBlock("not json"); notJSON.Text != "not json" {
		t.Errorf("non-JSON shown as %q", notJSON.Text)
	}
	if empty := jsonBlock(""); empty.Text != "" || empty.Folded {
		t.Errorf("empty block %+v", empty)
	}
}

func TestParamRows(t *testing.T) {
	rows, ok := paramRows(`{"service":"api","replicas":12,"notify":["a","b"],"dry":false}`)
	if !ok || len(rows) != 4 {
		t.Fatalf("rows %+v ok %v", rows, ok)
	}
	want := []string{"dry=false", "notify=[\"a\",\"b\"]", "replicas=12", "service=api"}
	for i, r := range rows {
		if r.Key+"="+r.Value != want[i] {
			t.Errorf("row %d = %s=%s, want %s", i, r.Key, r.Value, want[i])
		}
	}
	if rows[3].JSON || !rows[2].JSON {
		t.Error("string values must be shown as text, others as JSON")
	}
	if _, ok := paramRows(`[1,2]`); ok {
		t.Error("a JSON list is not a parameter object")
	}
	if got := paramsSummary(`{"a":"` + strings.Repeat("y", 200) + `"}`); len([]rune(got)) != paramsSummaryMax || !strings.HasSuffix(got, "…") {
		t.Errorf("long summary not shortened: %d runes", len([]rune(got)))
	}
}

func TestListQueryURLKeepsFiltersAndDropsEmptyOnes(t *testing.T) {
	q := listQuery{Requester: "carol", Channel: "~incidents", Action: "restart"}
	if got := q.url("/", "abc.REQ-1"); got != "/?action=restart&after=abc.REQ-1&channel=~incidents&requester=carol" &&
		got != "/?action=restart&after=abc.REQ-1&channel=%7Eincidents&requester=carol" {
		t.Errorf("url %q", got)
	}
	if got := (listQuery{}).url("/requests", ""); got != "/requests" {
		t.Errorf("empty query url %q", got)
	}
}
