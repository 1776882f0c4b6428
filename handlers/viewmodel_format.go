package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/countersign/countersign/templates/partials"
)

// Folding thresholds for JSON in the tool chain: longer blocks start
// closed, showing their one-line summary, so the evidence does not push
// everything else down the page.
const (
	foldLines      = 6
	foldBytes      = 400
	jsonSummaryMax = 100
)

// paramsSummaryMax bounds the one-line parameter summary in list rows.
const paramsSummaryMax = 80

// timeView shows t in UTC with a hint relative to now.
func timeView(t, now time.Time) partials.Time {
	if t.IsZero() {
		return partials.Time{}
	}
	t = t.UTC()
	return partials.Time{
		ISO:      t.Format(time.RFC3339),
		UTC:      t.Format("2006-01-02 15:04:05 UTC"),
		Relative: relative(t, now),
	}
}

// msTime converts Mattermost's milliseconds since the epoch (0 = none).
func msTime(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// relative says how far t is from now in the coarsest unit that is still
// useful at a glance: "just now", "12 min ago", "in 3 h", "5 days ago".
func relative(t, now time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < 45*time.Second:
		if future {
			return "in less than a minute"
		}
		return "just now"
	case d < 90*time.Minute:
		s = fmt.Sprintf("%d min", max(1, int((d+30*time.Second)/time.Minute)))
	case d < 36*time.Hour:
		s = fmt.Sprintf("%d h", int((d+30*time.Minute)/time.Hour))
	default:
		s = fmt.Sprintf("%d days", int((d+12*time.Hour)/(24*time.Hour)))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// durationText is how long a tool call took; "" when it has not ended.
func durationText(start, end time.Time) string {
	if start.IsZero() || end.IsZero() || end.Before(start) {
		return ""
	}
	d := end.Sub(start)
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}

// sizeText is a byte count for people.
func sizeText(n int) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1024*1024))
	}
}

// jsonBlock pretty-prints JSON text for reading and decides whether it is
// long enough to fold. Text that is not JSON is shown as it is.
func jsonBlock(raw string) partials.JSONBlock {
	if raw == "" {
		return partials.JSONBlock{}
	}
	text := raw
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(raw), "", "  "); err == nil {
		text = buf.String()
	}
	lines := strings.Count(text, "\n") + 1
	summary := raw
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(raw)); err == nil {
		summary = compact.String()
	}
	return partials.JSONBlock{
		Text: text, Lines: lines, Size: sizeText(len(text)),
		Folded:  lines > foldLines || len(text) > foldBytes,
		Summary: truncate(strings.Join(strings.Fields(summary), " "), jsonSummaryMax),
	}
}

// paramRows splits a JSON object of parameters into sorted rows. ok is
// false when params is not an object; the page then shows the raw text.
func paramRows(params string) (rows []partials.Param, ok bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(params), &m); err != nil || m == nil {
		return nil, false
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rows = make([]partials.Param, 0, len(keys))
	for _, k := range keys {
		raw := m[k]
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			rows = append(rows, partials.Param{Key: k, Value: s})
			continue
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			compact.Reset()
			compact.Write(raw)
		}
		rows = append(rows, partials.Param{Key: k, Value: compact.String(), JSON: true})
	}
	return rows, true
}

// paramsSummary is the one-line "key=value ..." form for list rows,
// shortened with an ellipsis when long.
func paramsSummary(params string) string {
	rows, ok := paramRows(params)
	if !ok {
		return truncate(params, paramsSummaryMax)
	}
	parts := make([]string, len(rows))
	for i, p := range rows {
		parts[i] = p.Key + "=" + p.Value
	}
	return truncate(strings.Join(parts, " "), paramsSummaryMax)
}

// truncate shortens s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// firstNonEmpty returns the first of s that is not empty.
func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
