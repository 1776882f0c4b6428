package search

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"gorm.io/gorm"

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
	return s.run(ctx, query, args, fn)
}

// run executes a search statement and calls fn with each row.
//
// On PostgreSQL the statement runs in a read-only transaction that asks
// for a custom plan (plan_cache_mode = force_custom_plan, for this
// transaction only). pgx prepares and caches the statement, and after five
// runs PostgreSQL may switch a prepared statement to one generic plan for
// all values; for the person + words search the generic plan cannot see
// how few rows the words match and walks audit_events_words in sequence
// (seconds at 1,000,000 events), and a server or role configured with
// force_generic_plan would get it at once. A custom plan is made for the
// search's own values, every time.
func (s *Searcher) run(ctx context.Context, query string, args []any, fn func(*Hit) error) error {
	if s.store.Dialect() != models.DialectPostgres {
		return scan(s.store.DB(ctx), query, args, fn)
	}
	return s.store.DB(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`SET LOCAL plan_cache_mode = force_custom_plan`).Error; err != nil {
			return fmt.Errorf("audit search: %w", err)
		}
		return scan(tx, query, args, fn)
	}, &sql.TxOptions{ReadOnly: true})
}

// scan runs the statement on db and calls fn with each row.
func scan(db *gorm.DB, query string, args []any, fn func(*Hit) error) error {
	rows, err := db.Raw(query, args...).Rows()
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
