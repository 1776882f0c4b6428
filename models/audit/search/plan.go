package search

import (
	"fmt"
	"strings"
)

// searchSQL builds the search statement. Every user value is a bind
// parameter; the full-text expression is built from parsed words only
// (fts5Match, tsQuery) and bound as a parameter too.
//
// The actor is the most selective filter people use (one person's events
// are a few thousand of a million), so the plan starts there:
//
//   - SQLite: the event numbers of the actor — acted, requested,
//     sponsored — come from indexes alone, are intersected with the
//     full-text matches (also index-only), and only the events in that
//     intersection are read, newest first, as far as the page needs. Before,
//     every full-text candidate row was read to test the actor on it: about
//     2,100 rows for two common words at 1,000,000 events, to keep about 14.
//   - PostgreSQL: the same sets are index conditions that the planner ANDs
//     as bitmaps (= ANY(ARRAY(…)), see actorSQL), and the few thousand
//     rows of the actor are sorted rather than the primary key walked.
//
// Without an actor the full-text matches (or the database's own choice
// for the other filters) drive, read newest first until the page is full.
// plan_equiv_test.go holds the results equal to the plain statement's.
func searchSQL(pg bool, q Query, limit int) (string, []any) {
	var w where
	if q.Actor != "" {
		if pg {
			w.add(actorPostgres(q.Role), actorArgs(q)...)
		} else {
			cond, args := actorSQLite(q)
			w.add(cond, args...)
		}
	}
	if len(q.Terms) > 0 && (pg || q.Actor == "") {
		if pg {
			w.add(`e.purpose_tsv @@ to_tsquery('simple', ?)`, tsQuery(q.Terms))
		} else {
			w.add(`e.seq IN (SELECT rowid FROM audit_search WHERE audit_search MATCH ?)`, fts5Match(q.Terms))
		}
	}
	if q.Action != "" {
		w.add(`e.action = ?`, q.Action)
	}
	if q.Channel != "" {
		w.add(`e.request_id IN (SELECT id FROM requests WHERE channel_id = ? OR LOWER(channel_name) = LOWER(?))`, q.Channel, q.Channel)
	}
	if len(q.States) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?,", len(q.States)), ",")
		a := make([]any, len(q.States))
		for i, st := range q.States {
			a[i] = string(st)
		}
		w.add(`e.request_id IN (SELECT id FROM requests WHERE state IN (`+marks+`))`, a...)
	}
	if q.Verdict != "" {
		w.add(`e.type = ?`, "decision."+string(q.Verdict))
	}
	if !q.From.IsZero() {
		w.add(`e.at_unix_us >= ?`, q.From.UnixMicro())
	}
	if !q.To.IsZero() {
		w.add(`e.at_unix_us < ?`, q.To.UnixMicro())
	}
	if q.Before > 0 {
		w.add(`e.seq < ?`, q.Before)
	}
	var b strings.Builder
	b.WriteString(`SELECT e.seq, e.at_unix_us, e.type, e.actor_type, e.actor_id, e.actor_display, e.request_id, e.purpose, e.action, e.policy_ref, e.payload, e.prev_hash, e.hash, ` +
		`COALESCE(r.state, ''), COALESCE(r.team_name, ''), COALESCE(r.channel_id, ''), COALESCE(r.channel_name, ''), COALESCE(r.root_post_id, ''), COALESCE(r.trigger_post_id, '') ` +
		`FROM audit_events e LEFT JOIN requests r ON r.id = e.request_id`)
	if len(w.conds) > 0 {
		b.WriteString(` WHERE `)
		b.WriteString(strings.Join(w.conds, ` AND `))
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
	return b.String(), w.args
}

// where collects the conditions of a statement and their arguments in
// order.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// actorArgs are the arguments of actorPostgres: the actor twice (id, name)
// for each capacity the role includes.
func actorArgs(q Query) []any {
	n := 2
	if q.Role == RoleAny {
		n = 6
	}
	out := make([]any, n)
	for i := range out {
		out[i] = q.Actor
	}
	return out
}

// actorPostgres is the actor filter on PostgreSQL. = ANY(ARRAY(…)) is an
// index condition, so PostgreSQL can AND the actor's bitmap with the
// full-text one and read only the rows matching both; IN (subquery) would
// be a per-row filter.
func actorPostgres(role ActorRole) string {
	acted := `(e.actor_id = ? OR LOWER(e.actor_display) = LOWER(?))`
	requested := `e.request_id = ANY(ARRAY(SELECT id FROM requests WHERE requester_id = ? OR LOWER(requester_name) = LOWER(?)))`
	sponsored := `e.request_id = ANY(ARRAY(SELECT id FROM requests WHERE sponsor_id = ? OR LOWER(sponsor_name) = LOWER(?)))`
	switch role {
	case RoleActed:
		return acted
	case RoleRequester:
		return requested
	case RoleSponsor:
		return sponsored
	}
	return `(` + acted + ` OR ` + requested + ` OR ` + sponsored + `)`
}

// actorSQLite is the actor filter on SQLite: the event must be in the set
// of the actor's event numbers, built from indexes only (each arm is a
// covering index scan: audit_events_actor, audit_events_actor_display,
// the requests indexes ending in id, audit_events_request), intersected
// with the full-text matches when there are words, and cut at the page
// cursor. SQLite walks that set newest first and reads an event only when
// it is in it.
func actorSQLite(q Query) (string, []any) {
	var arms []string
	var args []any
	// arm adds one set; col < cursor keeps it below the page cursor, so a
	// later page does not collect the newer events again.
	arm := func(sql, col string, a ...any) string {
		args = append(args, a...)
		if q.Before > 0 {
			sql += ` AND ` + col + ` < ?`
			args = append(args, q.Before)
		}
		return sql
	}
	if q.Role == RoleAny || q.Role == RoleActed {
		arms = append(arms,
			arm(`SELECT seq FROM audit_events WHERE actor_id = ?`, `seq`, q.Actor),
			arm(`SELECT seq FROM audit_events WHERE LOWER(actor_display) = LOWER(?)`, `seq`, q.Actor))
	}
	if q.Role == RoleAny || q.Role == RoleRequester {
		arms = append(arms, arm(`SELECT ae.seq FROM requests rq JOIN audit_events ae ON ae.request_id = rq.id WHERE (rq.requester_id = ? OR LOWER(rq.requester_name) = LOWER(?))`, `ae.seq`, q.Actor, q.Actor))
	}
	if q.Role == RoleAny || q.Role == RoleSponsor {
		arms = append(arms, arm(`SELECT ae.seq FROM requests rq JOIN audit_events ae ON ae.request_id = rq.id WHERE (rq.sponsor_id = ? OR LOWER(rq.sponsor_name) = LOWER(?))`, `ae.seq`, q.Actor, q.Actor))
	}
	set := strings.Join(arms, ` UNION `)
	if len(q.Terms) > 0 {
		// Compound operators bind left to right: (a ∪ b ∪ …) ∩ matches.
		set += ` INTERSECT ` + arm(`SELECT rowid FROM audit_search WHERE audit_search MATCH ?`, `rowid`, fts5Match(q.Terms))
	}
	return `e.seq IN (` + set + `)`, args
}
