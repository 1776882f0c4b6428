package search

import (
	"fmt"
	"strings"
)

// searchSQL builds the search statement. Every user value is a bind
// parameter; the full-text expression is built from parsed words only
// (fts5Match, tsQuery) and bound as a parameter too.
//
// The actor's side comes from indexes alone: the ids of the requests
// someone made or sponsors are read from requests indexes that end in the
// id (migration 0028), so the filter costs a few index pages instead of
// one table row per request (about 900 page reads for one person at
// 1,000,000 events). The full-text matches are then walked newest first and
// read only until the page is full.
//
// Tried and measured (docs/BENCHMARKS.md, "Scale (issue 16)"): starting
// from the actor's event numbers (index-only arms intersected with the
// full-text matches) reads fewer rows but probes audit_events_request once
// per request of the actor and sorts and merges the arms, and cost more CPU
// on SQLite (15-22 ms against 9-14 ms per search); PostgreSQL already ANDs
// the actor's and the words' bitmaps.
func searchSQL(pg bool, q Query, limit int) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if q.Actor != "" {
		acted := `(e.actor_id = ? OR LOWER(e.actor_display) = LOWER(?))`
		requested := `e.request_id IN (SELECT id FROM requests WHERE requester_id = ? OR LOWER(requester_name) = LOWER(?))`
		sponsored := `e.request_id IN (SELECT id FROM requests WHERE sponsor_id = ? OR LOWER(sponsor_name) = LOWER(?))`
		if pg {
			// = ANY(ARRAY(…)) is an index condition, so PostgreSQL can AND
			// the actor's bitmap with the full-text one and read only the
			// rows matching both; IN (subquery) would be a per-row filter.
			requested = `e.request_id = ANY(ARRAY(SELECT id FROM requests WHERE requester_id = ? OR LOWER(requester_name) = LOWER(?)))`
			sponsored = `e.request_id = ANY(ARRAY(SELECT id FROM requests WHERE sponsor_id = ? OR LOWER(sponsor_name) = LOWER(?)))`
		}
		a := []any{q.Actor, q.Actor}
		switch q.Role {
		case RoleActed:
			add(acted, a...)
		case RoleRequester:
			add(requested, a...)
		case RoleSponsor:
			add(sponsored, a...)
		default:
			add(`(`+acted+` OR `+requested+` OR `+sponsored+`)`, q.Actor, q.Actor, q.Actor, q.Actor, q.Actor, q.Actor)
		}
	}
	if len(q.Terms) > 0 {
		if pg {
			add(`e.purpose_tsv @@ to_tsquery('simple', ?)`, tsQuery(q.Terms))
		} else {
			add(`e.seq IN (SELECT rowid FROM audit_search WHERE audit_search MATCH ?)`, fts5Match(q.Terms))
		}
	}
	if q.Action != "" {
		add(`e.action = ?`, q.Action)
	}
	if q.Channel != "" {
		add(`e.request_id IN (SELECT id FROM requests WHERE channel_id = ? OR LOWER(channel_name) = LOWER(?))`, q.Channel, q.Channel)
	}
	if len(q.States) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?,", len(q.States)), ",")
		a := make([]any, len(q.States))
		for i, st := range q.States {
			a[i] = string(st)
		}
		add(`e.request_id IN (SELECT id FROM requests WHERE state IN (`+marks+`))`, a...)
	}
	if q.Verdict != "" {
		add(`e.type = ?`, "decision."+string(q.Verdict))
	}
	if !q.From.IsZero() {
		add(`e.at_unix_us >= ?`, q.From.UnixMicro())
	}
	if !q.To.IsZero() {
		add(`e.at_unix_us < ?`, q.To.UnixMicro())
	}
	if q.Before > 0 {
		add(`e.seq < ?`, q.Before)
	}
	var b strings.Builder
	b.WriteString(`SELECT e.seq, e.at_unix_us, e.type, e.actor_type, e.actor_id, e.actor_display, e.request_id, e.purpose, e.action, e.policy_ref, e.payload, e.prev_hash, e.hash, ` +
		`COALESCE(r.state, ''), COALESCE(r.team_name, ''), COALESCE(r.channel_id, ''), COALESCE(r.channel_name, ''), COALESCE(r.root_post_id, ''), COALESCE(r.trigger_post_id, '') ` +
		`FROM audit_events e LEFT JOIN requests r ON r.id = e.request_id`)
	if len(where) > 0 {
		b.WriteString(` WHERE `)
		b.WriteString(strings.Join(where, ` AND `))
	}
	if pg && q.Actor != "" {
		// The actor's events are a few thousand rows found through their
		// indexes; sorting them beats PostgreSQL's favourite plan of
		// walking the primary key backwards and filtering (the whole
		// table when the combination is rare). "+ 0" hides the order
		// from that index.
		b.WriteString(` ORDER BY e.seq + 0 DESC`)
	} else {
		b.WriteString(` ORDER BY e.seq DESC`)
	}
	if limit > 0 {
		fmt.Fprintf(&b, ` LIMIT %d`, limit)
	}
	return b.String(), args
}
