package search

import (
	"context"
	"errors"
	"fmt"

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
func (s *Searcher) run(ctx context.Context, query string, args []any, fn func(*Hit) error) error {
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
