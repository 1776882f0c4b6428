package pages

import (
	"strconv"

	"github.com/countersign/countersign/templates/partials"
)

// AuditSearchView is the audit search page: the filter form as submitted
// (so the URL reproduces it), the message for a malformed filter, one page
// of results newest first, and links to the next page and the exports.
type AuditSearchView struct {
	Form AuditSearchForm
	// Error explains a malformed filter; no results are shown with it.
	Error string
	Rows  []AuditRow
	// More is true when older matching events follow on the next page, so
	// len(Rows) is not the whole count.
	More bool
	// NextURL is the link to the next (older) page; empty on the last.
	NextURL string
	// PageStart is true on the first page (no cursor).
	PageStart bool
	// FirstURL returns to the newest page of the same search.
	FirstURL string
	// ExportCSV and ExportJSONL carry the same filters. With an Error they
	// carry the filters that were accepted (ExportNote names what was
	// left out), or are empty when none could be kept.
	ExportCSV, ExportJSONL string
	ExportNote             string
}

// AuditSearchForm holds the filters as typed.
type AuditSearchForm struct {
	Actor, Purpose, Action, Channel, From, To string
	Roles, States, Verdicts                   []Option
}

// Option is one choice of a select.
type Option struct {
	Value, Label string
	Selected     bool
}

// AuditRow is one event in the results.
type AuditRow struct {
	Seq  string
	At   partials.Time
	Type string
	// Verdict is "approve" or "deny" for decision events.
	Verdict   string
	Actor     string
	ActorID   string
	ActorType string
	RequestID string
	// RequestURL, ThreadURL and ReceiptURL are empty when not applicable.
	RequestURL string
	ThreadURL  string
	ReceiptURL string
	Purpose    string
	// PurposeParts is Purpose split so the words the purpose search
	// matched can be marked; empty when nothing is marked.
	PurposeParts []TextPart
	Action       string
	RequestState string
	Channel      string
}

// TextPart is a piece of text; Mark says it matched the search.
type TextPart struct {
	Text string
	Mark bool
}

// plural picks the singular for one and the plural otherwise.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// itoaLen is len(s) as text.
func itoaLen(s []string) string { return strconv.Itoa(len(s)) }
