package search

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
)

// Hit is one search result: the event as exported in bundles, and where
// its request stands and was asked (for links to the request page and the
// Mattermost thread). Request fields are empty for events without a
// request.
type Hit struct {
	Event   audit.Event
	Request HitRequest
}

// HitRequest is what a result shows of the event's request.
type HitRequest struct {
	State         models.State
	TeamName      string
	ChannelID     string
	ChannelName   string
	RootPostID    string
	TriggerPostID string
}

// ThreadPostID is the post a Mattermost permalink to the request's
// conversation should open: the thread root, or the post that triggered
// the request.
func (r HitRequest) ThreadPostID() string {
	if r.RootPostID != "" {
		return r.RootPostID
	}
	return r.TriggerPostID
}

// Page is one page of results, newest first. Next is the cursor (Before)
// of the following page, 0 when this is the last.
type Page struct {
	Hits []Hit
	Next int64
}

// Searcher runs audit searches. It reads through the store's pool and
// never writes.
type Searcher struct {
	store *models.Store
}

// NewSearcher returns a Searcher over store.
func NewSearcher(store *models.Store) *Searcher { return &Searcher{store: store} }

// Search returns one page of the events matching q, newest first. Paging
// by seq keeps pages stable while the log grows: events appended meanwhile
// have higher numbers and never shift a later page.
func (s *Searcher) Search(ctx context.Context, q Query) (*Page, error) {
	if err := q.Normalize(); err != nil {
		return nil, err
	}
	page := &Page{}
	n := 0
	err := s.each(ctx, q, q.Limit+1, func(h *Hit) error {
		n++
		if n > q.Limit {
			page.Next = page.Hits[len(page.Hits)-1].Event.Seq
			return errStop
		}
		page.Hits = append(page.Hits, *h)
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	return page, nil
}

// Stream calls fn with every event matching q, newest first, from one
// database cursor: memory stays constant however many match. q.Limit is
// ignored. The Hit passed to fn is reused; fn must copy what it keeps.
func (s *Searcher) Stream(ctx context.Context, q Query, fn func(*Hit) error) error {
	if err := q.Normalize(); err != nil {
		return err
	}
	return s.each(ctx, q, 0, fn)
}

// errStop ends a scan early without an error.
var errStop = errors.New("stop")

func (s *Searcher) each(ctx context.Context, q Query, limit int, fn func(*Hit) error) error {
	query, args := searchSQL(s.store.Dialect() == models.DialectPostgres, q, limit)
	rows, err := s.store.DB(ctx).Raw(query, args...).Rows()
	if err != nil {
		return fmt.Errorf("audit search: %w", err)
	}
	defer rows.Close()
	var h Hit
	e, r := &h.Event, &h.Request
	for rows.Next() {
		if err := rows.Scan(&e.Seq, &e.AtUnixUS, &e.Type, &e.ActorType, &e.ActorID, &e.ActorDisplay, &e.RequestID, &e.Purpose,
			&e.Action, &e.PolicyRef, &e.Payload, &e.PrevHash, &e.Hash,
			&r.State, &r.TeamName, &r.ChannelID, &r.ChannelName, &r.RootPostID, &r.TriggerPostID); err != nil {
			return fmt.Errorf("audit search: read row: %w", err)
		}
		if err := fn(&h); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit search: %w", err)
	}
	return nil
}

// searchSQL builds the search statement. Every user value is a bind
// parameter; the full-text expression is built from parsed words only
// (fts5Match, tsQuery) and bound as a parameter too.
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
