package search

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/countersign/countersign/models"
)

// ActorRole narrows what the actor filter matches.
type ActorRole string

// The actor roles.
const (
	// RoleAny matches events the actor performed and every event of the
	// requests the actor made or sponsors (the default).
	RoleAny ActorRole = ""
	// RoleActed matches only events the actor performed (created,
	// approved, denied, cancelled…).
	RoleActed ActorRole = "acted"
	// RoleRequester matches every event of the requests the actor made.
	RoleRequester ActorRole = "requester"
	// RoleSponsor matches every event of the requests of agents the actor
	// sponsors.
	RoleSponsor ActorRole = "sponsor"
)

// Valid reports whether r is a known role.
func (r ActorRole) Valid() bool {
	return r == RoleAny || r == RoleActed || r == RoleRequester || r == RoleSponsor
}

// Page sizes of a search.
const (
	DefaultLimit = 50
	MaxLimit     = 500
	maxFilterLen = 200
)

// Query is an audit search: every set filter must hold. The zero Query
// matches every event.
type Query struct {
	// Actor is a person's or agent's id or name (case-insensitive, exact);
	// Role says in which capacity (see ActorRole).
	Actor string
	Role  ActorRole
	// Purpose is a full-text search over event purposes (see ParseText);
	// Terms is its parsed form, filled by Normalize.
	Purpose string
	Terms   []TextTerm
	// Action is the catalogue action (exact), e.g. "restart".
	Action string
	// Channel is the request's Mattermost channel id or name (a leading ~
	// is ignored; names compare case-insensitively).
	Channel string
	// States keeps events of requests currently in one of these states.
	States []models.State
	// Verdict keeps only decision events with this verdict.
	Verdict models.Verdict
	// From (inclusive) and To (exclusive) bound the event time; zero is
	// unbounded.
	From, To time.Time
	// Before is the keyset cursor: only events with seq < Before (0: from
	// the newest).
	Before int64
	// Limit is the page size (0: DefaultLimit); Stream ignores it.
	Limit int
}

// ParseQuery reads a search from URL query parameters (actor, role,
// purpose, action, channel, state — repeatable or comma-separated —,
// verdict, from, to, before, limit). Any malformed value is a
// *models.ValidationError naming the parameter.
func ParseQuery(v url.Values) (Query, error) {
	q := Query{
		Actor: strings.TrimSpace(v.Get("actor")), Role: ActorRole(strings.TrimSpace(v.Get("role"))),
		Purpose: strings.TrimSpace(v.Get("purpose")), Action: strings.TrimSpace(v.Get("action")),
		Channel: strings.TrimSpace(v.Get("channel")), Verdict: models.Verdict(strings.TrimSpace(v.Get("verdict"))),
	}
	for _, raw := range v["state"] {
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				q.States = append(q.States, models.State(s))
			}
		}
	}
	var err error
	if q.From, err = parseTime("from", v.Get("from"), false); err != nil {
		return q, err
	}
	if q.To, err = parseTime("to", v.Get("to"), true); err != nil {
		return q, err
	}
	if s := strings.TrimSpace(v.Get("before")); s != "" {
		if q.Before, err = strconv.ParseInt(s, 10, 64); err != nil || q.Before < 1 {
			return q, models.Invalid("before", fmt.Sprintf("%q is not an event number", truncateText(s)))
		}
	}
	if s := strings.TrimSpace(v.Get("limit")); s != "" {
		if q.Limit, err = strconv.Atoi(s); err != nil || q.Limit < 1 || q.Limit > MaxLimit {
			return q, models.Invalid("limit", fmt.Sprintf("%q: want a number from 1 to %d", truncateText(s), MaxLimit))
		}
	}
	return q, q.Normalize()
}

// Normalize checks q and fills Terms; Search and Stream call it.
func (q *Query) Normalize() error {
	for _, f := range []struct{ name, v string }{{"actor", q.Actor}, {"action", q.Action}, {"channel", q.Channel}} {
		if !utf8.ValidString(f.v) {
			return models.Invalid(f.name, "is not valid UTF-8 text")
		}
		if utf8.RuneCountInString(f.v) > maxFilterLen {
			return models.Invalid(f.name, fmt.Sprintf("is longer than %d characters", maxFilterLen))
		}
	}
	q.Channel = strings.TrimPrefix(q.Channel, "~")
	if !q.Role.Valid() {
		return models.Invalid("role", fmt.Sprintf("%q: want acted, requester or sponsor (or nothing for any)", truncateText(string(q.Role))))
	}
	if q.Role != RoleAny && q.Actor == "" {
		return models.Invalid("role", "needs an actor")
	}
	if q.Verdict != "" && !q.Verdict.Valid() {
		return models.Invalid("verdict", fmt.Sprintf("%q: want approve or deny", truncateText(string(q.Verdict))))
	}
	seen := map[models.State]bool{}
	states := q.States[:0:0]
	for _, s := range q.States {
		if !s.Valid() {
			return models.Invalid("state", fmt.Sprintf("%q is not a request state", truncateText(string(s))))
		}
		if !seen[s] {
			seen[s] = true
			states = append(states, s)
		}
	}
	q.States = states
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return models.Invalid("to", "must be after from")
	}
	if q.Before < 0 {
		return models.Invalid("before", "must be a positive event number")
	}
	if q.Limit < 0 || q.Limit > MaxLimit {
		return models.Invalid("limit", fmt.Sprintf("want a number from 1 to %d", MaxLimit))
	}
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	terms, err := ParseText(q.Purpose)
	if err != nil {
		return err
	}
	q.Terms = terms
	return nil
}

// Values returns q as URL query parameters (without the cursor and the
// limit), so a search can be shared and paged by link.
func (q Query) Values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("actor", q.Actor)
	set("role", string(q.Role))
	set("purpose", q.Purpose)
	set("action", q.Action)
	set("channel", q.Channel)
	for _, s := range q.States {
		v.Add("state", string(s))
	}
	set("verdict", string(q.Verdict))
	if !q.From.IsZero() {
		v.Set("from", q.From.UTC().Format(time.RFC3339))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.UTC().Format(time.RFC3339))
	}
	return v
}

// timeLayouts are the accepted date and time forms; times without a zone
// are UTC.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04"}

// parseTime reads a from/to bound. A bare date (2026-03-01) means the start
// of that day for from, and the end of it (the next day's start) for to, so
// from=to=one day searches that day.
func parseTime(name, s string, endOfDay bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.Parse("2006-01-02", s); err == nil {
		if endOfDay {
			d = d.AddDate(0, 0, 1)
		}
		return checkYear(name, s, d)
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return checkYear(name, s, t.UTC())
		}
	}
	return time.Time{}, models.Invalid(name, fmt.Sprintf("%q is not a date (2026-03-01) or time (2026-03-01T14:30, 2026-03-01T14:30:00Z, UTC unless a zone is given)", truncateText(s)))
}

// checkYear keeps times within what microseconds since the epoch can hold
// and people mean.
func checkYear(name, s string, t time.Time) (time.Time, error) {
	if t.Year() < 1970 || t.Year() > 9999 {
		return time.Time{}, models.Invalid(name, fmt.Sprintf("%q is outside the years 1970–9999", truncateText(s)))
	}
	return t, nil
}

// truncateText shortens user input quoted back in messages.
func truncateText(s string) string {
	if utf8.RuneCountInString(s) <= 40 {
		return s
	}
	r := []rune(s)
	return string(r[:40]) + "…"
}
