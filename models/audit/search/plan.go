package search

import (
	"fmt"
	"strconv"
	"strings"
)

// searchSQL builds the search statement. Every user value is a bind
// parameter; the full-text expression is built from parsed words only
// (fts5Match, tsQuery) and bound as a parameter too.
//
// The actor's side is one range of audit_events_people (migration 0033):
// every event number of the person in the capacities asked for, read from
// its primary key alone. With purpose words, that range is intersected with
// the full-text matches inside one subquery, so only the events matching
// both are read from audit_events (about 14 of the 2,100 full-text
// candidates of a two-word search at 1,000,000 events).
//
// Tried and measured before (docs/BENCHMARKS.md, "Scale (issue 16)"): the
// request side found through requests indexes and audit_events_request,
// one probe per request of the person (about 950 at 1,000,000 events), or
// by reading each full-text candidate row before the actor filter: 12-19 ms
// of CPU per search on SQLite.
func searchSQL(pg bool, q Query, limit int) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	// terms is the full-text condition on e, with its argument termArg.
	var terms string
	var termArg any
	if len(q.Terms) > 0 && pg {
		terms, termArg = `e.seq IN (SELECT w.seq FROM audit_events_words w WHERE w.words @@ to_tsquery('simple', ?))`, tsQuery(q.Terms)
	} else if len(q.Terms) > 0 {
		terms, termArg = `e.seq IN (SELECT rowid FROM audit_search WHERE audit_search MATCH ?)`, fts5Match(q.Terms)
	}
	if q.Actor != "" {
		sub, subArgs := actorSQL(pg, q, terms != "", termArg)
		if limit > 0 && onlyActorAndWords(q) {
			// Nothing else filters e: the page is the newest numbers of
			// the subquery, so only those rows are read (an active person
			// has thousands of events; the page needs 51).
			sub = `SELECT DISTINCT s.seq FROM (` + sub + `) s`
			if q.Before > 0 {
				sub += ` WHERE s.seq < ?`
				subArgs = append(subArgs, q.Before)
			}
			sub += fmt.Sprintf(` ORDER BY s.seq DESC LIMIT %d`, limit)
		}
		if pg {
			// = ANY(ARRAY(…)): PostgreSQL reads the numbers once and
			// fetches their rows through the primary key.
			add(`e.seq = ANY(ARRAY(`+sub+`))`, subArgs...)
		} else {
			add(`e.seq IN (`+sub+`)`, subArgs...)
		}
	} else if terms != "" {
		add(terms, termArg)
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
	if q.Actor != "" {
		// The actor's events are a few thousand numbers from one index
		// range; reading and sorting those rows beats walking the primary
		// key backwards and filtering (the whole table when the
		// combination is rare), which both engines otherwise favour for
		// ORDER BY … LIMIT. "+ 0" hides the order from that index.
		b.WriteString(` ORDER BY e.seq + 0 DESC`)
	} else {
		b.WriteString(` ORDER BY e.seq DESC`)
	}
	if limit > 0 {
		fmt.Fprintf(&b, ` LIMIT %d`, limit)
	}
	return b.String(), args
}

// roleNumber is the audit_events_people role of r; 0 matches every role.
func roleNumber(r ActorRole) int {
	switch r {
	case RoleActed:
		return 1
	case RoleRequester:
		return 2
	case RoleSponsor:
		return 3
	}
	return 0
}

// actorSQL is the subquery of the event numbers of q.Actor in q.Role and,
// when withTerms, whose purpose matches termArg.
//
// The person's side is one range of audit_events_people's primary key.
// With words, the intersection is computed inside the subquery, so the
// outer query reads only the rows in both: on SQLite each of the person's
// numbers is looked up in the full-text matches; on PostgreSQL one GIN
// lookup in audit_events_words matches the words and the person's tokens
// at once (intersecting the person's numbers with the word matches there
// read every word match's row: ~600 pages a search at 1,000,000 events).
// Filtering the person's rows by the words instead reads each of them
// (tens of thousands for a busy agent).
func actorSQL(pg bool, q Query, withTerms bool, termArg any) (string, []any) {
	people := `SELECT p.seq FROM audit_events_people p WHERE p.who IN ('id:' || ?, 'nm:' || LOWER(?))`
	if role := roleNumber(q.Role); role != 0 {
		people += ` AND p.role = ` + strconv.Itoa(role)
	}
	args := []any{q.Actor, q.Actor}
	switch {
	case !withTerms:
		return people, args
	case pg:
		// One GIN lookup: the words and the person's tokens together
		// (migration 0034); only the events with both are read.
		// A query PostgreSQL's parser reduces to nothing (words such as
		// "½" that it does not index) matches nothing by itself, but
		// "nothing && person" would be the person alone: numnode says so.
		return `SELECT w.seq FROM audit_events_words w WHERE numnode(to_tsquery('simple', ?)) > 0 ` +
				`AND w.words @@ (to_tsquery('simple', ?) && audit_people_query(?, ?::smallint))`,
			[]any{termArg, termArg, q.Actor, roleNumber(q.Role)}
	default:
		return people + ` AND p.seq IN (SELECT rowid FROM audit_search WHERE audit_search MATCH ?)`, append(args, termArg)
	}
}

// onlyActorAndWords reports whether q filters by nothing but the actor,
// the words and the cursor.
func onlyActorAndWords(q Query) bool {
	return q.Action == "" && q.Channel == "" && len(q.States) == 0 && q.Verdict == "" && q.From.IsZero() && q.To.IsZero()
}
