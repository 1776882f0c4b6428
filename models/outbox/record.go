package outbox

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Outcome says how the delivery of a claimed row ended.
type Outcome int

// The outcomes.
const (
	// Delivered: the row is done (PostID: the post it created or
	// updated), and so are the rows it supersedes (Message.Supersedes).
	Delivered Outcome = iota
	// Expanded: the row is done and its Children are queued.
	Expanded
	// Retried: another attempt at Next; Reason says why this one failed.
	Retried
	// Held: Mattermost is down; the attempt is returned and the row is due
	// again at once (see Queue.Hold).
	Held
	// Failed: the row failed for good with Reason.
	Failed
)

// Result is what became of one claimed row.
type Result struct {
	Message  *Message
	Outcome  Outcome
	PostID   string
	Children []Message
	Next     time.Time
	Reason   string
}

// Record writes the results of rows owner claimed, all in one
// transaction and with a few statements whatever their number (one
// update for the rows, one for the rows they supersede, one insert for
// the rows they expand into), so a worker delivering many messages at
// once does not pay a database round trip per message. It returns one
// error per result: nil, ErrLeaseLost when the row is no longer owner's
// (another worker took it after the lease ran out, and its result
// stands), or, when the transaction failed, its error for every result.
func (q *Queue) Record(ctx context.Context, owner string, results []Result, now time.Time) []error {
	errs := make([]error, len(results))
	if len(results) == 0 {
		return errs
	}
	err := q.store.WithTx(ctx, func(tx *gorm.DB) error {
		finished, err := finishRows(tx, owner, results, now)
		if err != nil {
			return err
		}
		for i, r := range results {
			if finished[r.Message.ID] {
				errs[i] = nil
			} else {
				errs[i] = fmt.Errorf("outbox: row %d: %w", r.Message.ID, ErrLeaseLost)
			}
		}
		if err := supersedeRows(tx, results, finished, now); err != nil {
			return err
		}
		return queueChildren(tx, results, finished, now)
	})
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// finishRows ends the lease of every row of results that owner still
// holds, writing its outcome, and returns the ids it finished.
func finishRows(tx *gorm.DB, owner string, results []Result, now time.Time) (map[int64]bool, error) {
	rows := make([][]any, 0, len(results))
	for _, r := range results {
		m := r.Message
		state, postID, lastError, next, delta := StatePending, m.PostID, clip(r.Reason), m.NextAttemptUS, 0
		switch r.Outcome {
		case Delivered:
			state, postID, lastError = StateDone, r.PostID, ""
		case Expanded:
			state, lastError = StateDone, ""
		case Retried:
			next = us(r.Next)
		case Held:
			next, delta = us(now), -1
		case Failed:
			state = StateFailed
		default:
			return nil, fmt.Errorf("outbox: row %d: unknown outcome %d", m.ID, r.Outcome)
		}
		rows = append(rows, []any{m.ID, string(state), postID, lastError, next, delta})
	}
	cte, args := valuesCTE("v", []string{"vid BIGINT", "vstate TEXT", "vpost TEXT", "verror TEXT", "vnext BIGINT", "vdelta INTEGER"}, rows)
	var ids []int64
	err := tx.Raw(cte+` UPDATE outbox_messages SET state = v.vstate, post_id = v.vpost, last_error = v.verror,
		next_attempt_us = v.vnext,
		attempts = CASE WHEN outbox_messages.attempts + v.vdelta < 0 THEN 0 ELSE outbox_messages.attempts + v.vdelta END,
		lease_owner = '', lease_until_us = 0, updated_at = ?
		FROM v WHERE outbox_messages.id = v.vid AND outbox_messages.state = ? AND outbox_messages.lease_owner = ?
		RETURNING id`, append(args, now, StatePending, owner)...).Scan(&ids).Error
	if err != nil {
		return nil, fmt.Errorf("outbox: record %d results: %w", len(results), err)
	}
	finished := make(map[int64]bool, len(ids))
	for _, id := range ids {
		finished[id] = true
	}
	return finished, nil
}

// supersedeRows marks done, with the post of the row that superseded
// them, the rows superseded by delivered rows — unless something else
// took them meanwhile.
func supersedeRows(tx *gorm.DB, results []Result, finished map[int64]bool, now time.Time) error {
	var rows [][]any
	for _, r := range results {
		if r.Outcome != Delivered || !finished[r.Message.ID] {
			continue
		}
		for _, id := range r.Message.Supersedes {
			rows = append(rows, []any{id, r.Message.RequestID, r.PostID})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	cte, args := valuesCTE("v", []string{"vid BIGINT", "vrequest TEXT", "vpost TEXT"}, rows)
	err := tx.Exec(cte+` UPDATE outbox_messages SET state = ?, post_id = v.vpost, last_error = '', lease_owner = '', lease_until_us = 0, updated_at = ?
		FROM v WHERE outbox_messages.id = v.vid AND outbox_messages.request_id = v.vrequest
		AND outbox_messages.state = ? AND outbox_messages.kind = ? AND outbox_messages.lease_until_us <= ?`,
		append(args, StateDone, now, StatePending, KindRequestPost, us(now))...).Error
	if err != nil {
		return fmt.Errorf("outbox: mark %d superseded rows: %w", len(rows), err)
	}
	return nil
}

// queueChildren inserts the rows expanded rows turn into, each due now
// with a fresh idempotency key.
func queueChildren(tx *gorm.DB, results []Result, finished map[int64]bool, now time.Time) error {
	var kids []Message
	for _, r := range results {
		if r.Outcome != Expanded || !finished[r.Message.ID] {
			continue
		}
		for _, c := range r.Children {
			c.ID, c.RequestID, c.State, c.IdemKey = 0, r.Message.RequestID, StatePending, newKey()
			c.NextAttemptUS, c.CreatedAt, c.UpdatedAt = us(now), now, now
			if c.Payload == "" {
				c.Payload = "{}"
			}
			kids = append(kids, c)
		}
	}
	if len(kids) == 0 {
		return nil
	}
	if err := tx.Create(&kids).Error; err != nil {
		return fmt.Errorf("outbox: queue expanded rows: %w", err)
	}
	return nil
}

// valuesCTE builds "WITH name(col, …) AS (VALUES (…), …)" for rows, each
// value cast to its column's type so PostgreSQL knows the types of the
// parameters (SQLite accepts the same casts).
func valuesCTE(name string, cols []string, rows [][]any) (string, []any) {
	names := make([]string, len(cols))
	casts := make([]string, len(cols))
	for i, c := range cols {
		n, typ, _ := strings.Cut(c, " ")
		names[i], casts[i] = n, "CAST(? AS "+typ+")"
	}
	tuple := "(" + strings.Join(casts, ", ") + ")"
	var b strings.Builder
	b.WriteString("WITH " + name + "(" + strings.Join(names, ", ") + ") AS (VALUES ")
	args := make([]any, 0, len(rows)*len(cols))
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple)
		args = append(args, r...)
	}
	b.WriteString(")")
	return b.String(), args
}

// recordOne records a single result and returns its error.
func (q *Queue) recordOne(ctx context.Context, owner string, r Result, now time.Time) error {
	return q.Record(ctx, owner, []Result{r}, now)[0]
}

// Done marks a row delivered; postID is the post it created or updated,
// if any. The rows it supersedes (see Message.Supersedes) are marked done
// in the same transaction, unless something else took them meanwhile.
func (q *Queue) Done(ctx context.Context, m *Message, owner, postID string, now time.Time) error {
	return q.recordOne(ctx, owner, Result{Message: m, Outcome: Delivered, PostID: postID}, now)
}

// Hold gives a row back because Mattermost is down, not because of the
// row: the attempt is returned (an outage of hours must not use up a
// row's tries), the row is due again at once so it goes out as soon as
// the worker sees Mattermost answer, and the error is kept (which also
// makes the next attempt look for a post this one may have made).
func (q *Queue) Hold(ctx context.Context, m *Message, owner, reason string, now time.Time) error {
	return q.recordOne(ctx, owner, Result{Message: m, Outcome: Held, Reason: reason}, now)
}

// Retry gives the row back for another attempt at next, noting why this
// one failed (no secrets: callers pass error texts of package mattermost,
// which never carry the token).
func (q *Queue) Retry(ctx context.Context, m *Message, owner string, next time.Time, reason string, now time.Time) error {
	return q.recordOne(ctx, owner, Result{Message: m, Outcome: Retried, Next: next, Reason: reason}, now)
}

// Fail marks a row failed for good with the reason: Mattermost refused it
// (a 4xx other than 429) or it ran out of attempts.
func (q *Queue) Fail(ctx context.Context, m *Message, owner, reason string, now time.Time) error {
	return q.recordOne(ctx, owner, Result{Message: m, Outcome: Failed, Reason: reason}, now)
}

// Expand marks parent done and queues children in the same transaction,
// so a crash never leaves both or neither half-written.
func (q *Queue) Expand(ctx context.Context, parent *Message, owner string, children []Message, now time.Time) error {
	return q.recordOne(ctx, owner, Result{Message: parent, Outcome: Expanded, Children: children}, now)
}
