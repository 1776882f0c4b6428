package audit

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"sync"
)

// ProblemKind classifies what a verification found wrong.
type ProblemKind string

// The problem kinds.
const (
	// ProblemSequence: a sequence number is missing, repeated or out of
	// order (a row was deleted, inserted or renumbered).
	ProblemSequence ProblemKind = "sequence"
	// ProblemLink: an event's previous-hash does not name the event before it
	// (a row was inserted, deleted or reordered).
	ProblemLink ProblemKind = "link"
	// ProblemHash: an event's stored hash does not match its contents (the
	// row was modified).
	ProblemHash ProblemKind = "hash"
	// ProblemHead: the chain head does not match the last event (events
	// were removed from the end, or the head was edited).
	ProblemHead ProblemKind = "head"
)

// kindOrder is the order in which one event's checks run.
var kindOrder = map[ProblemKind]int{ProblemSequence: 0, ProblemLink: 1, ProblemHash: 2, ProblemHead: 3}

// Problem is the first inconsistency found.
type Problem struct {
	Seq    int64
	Kind   ProblemKind
	Detail string
	// want is the sequence number the walk expected where it found the
	// problem (0 when not from a walk): the events before it are good. It
	// differs from Seq when a row is missing or repeated.
	want int64
}

// Error implements error so callers can return a Problem.
func (p *Problem) Error() string {
	return fmt.Sprintf("event %d: %s: %s", p.Seq, p.Kind, p.Detail)
}

// Report is the outcome of Verify.
type Report struct {
	Events int64
	Head   string
	// Problem is nil when the chain is intact.
	Problem *Problem
	// Bytes is how many bytes were hashed (for throughput figures).
	Bytes int64
}

// minEventsPerWorker keeps small chains on one worker.
const minEventsPerWorker = 50_000

// Verify checks the whole chain and the chain head, reporting the first
// event (in sequence order) whose sequence number, link or hash is wrong.
//
// Long chains are split into contiguous ranges verified in parallel, one per
// CPU; each range starts from the previous-hash of its first row, and the
// joins between ranges are checked afterwards, so the result is the same as
// one walk from the genesis. Rows are streamed; nothing is held per event.
func Verify(ctx context.Context, db *sql.DB) (*Report, error) {
	return VerifyParallel(ctx, db, 0)
}

// VerifyParallel is Verify with an explicit number of workers; 0 picks one
// per CPU for long chains and one for short ones.
func VerifyParallel(ctx context.Context, db *sql.DB, workers int) (*Report, error) {
	var headSeq int64
	var headHash string
	if err := db.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&headSeq, &headHash); err != nil {
		return nil, fmt.Errorf("audit verify: read chain head: %w", err)
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
		if n := int(headSeq / minEventsPerWorker); n < workers {
			workers = n
		}
	}
	workers = int(max(min(int64(workers), headSeq), 1))
	ranges := make([]*rangeResult, workers)
	var wg sync.WaitGroup
	for i := range ranges {
		lo, hi := headSeq*int64(i)/int64(workers)+1, headSeq*int64(i+1)/int64(workers)+1
		r := &rangeResult{first: lo, open: i == 0, openEnd: i == workers-1, lo: lo, hi: hi}
		ranges[i] = r
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.err = r.walk(ctx, db)
		}()
	}
	wg.Wait()
	rep := &Report{Head: GenesisHash}
	var problems []*Problem
	prevLast := []byte(GenesisHash)
	expect := int64(1)
	for i, r := range ranges {
		if r.err != nil {
			return nil, r.err
		}
		if r.problem != nil {
			problems = append(problems, r.problem)
		}
		// Where ranges meet, check what a single walk would have checked
		// between the last row of one and the first row of the next.
		if i > 0 && r.seen {
			if r.firstSeq != expect {
				problems = append(problems, &Problem{Seq: r.firstSeq, Kind: ProblemSequence, Detail: fmt.Sprintf("expected event %d, found %d", expect, r.firstSeq), want: expect})
			} else if !bytes.Equal(r.firstPrev, prevLast) {
				problems = append(problems, &Problem{Seq: r.firstSeq, Kind: ProblemLink,
					Detail: fmt.Sprintf("previous hash %.16s… does not match event %d (%.16s…)", r.firstPrev, expect-1, prevLast)})
			}
		}
		if r.count > 0 {
			prevLast, expect = r.last, r.firstSeq+r.count
		}
		rep.Events += r.count
		rep.Bytes += r.bytes
	}
	if len(problems) > 0 {
		// The order a single walk from the genesis would find them in: by
		// event, and within one event sequence before link before hash.
		sort.SliceStable(problems, func(a, b int) bool {
			pa, pb := problems[a], problems[b]
			if pa.Seq != pb.Seq {
				return pa.Seq < pb.Seq
			}
			if pa.Kind != pb.Kind {
				return kindOrder[pa.Kind] < kindOrder[pb.Kind]
			}
			// A range that starts after missing rows expects its own first
			// event; the join with the range before knows the true one.
			return pa.want < pb.want
		})
		rep.Problem = problems[0]
		// The good events are those before the one the walk expected
		// there: after a deleted event 42, event 43 is found where 42 was
		// expected, and 41 events are good, not 42.
		rep.Events = rep.Problem.Seq - 1
		if rep.Problem.want > 0 {
			rep.Events = rep.Problem.want - 1
		}
		if rep.Events < 0 {
			rep.Events = 0
		}
		return rep, nil
	}
	rep.Head = string(prevLast)
	if headSeq != rep.Events || headHash != rep.Head {
		rep.Problem = &Problem{Seq: headSeq, Kind: ProblemHead, Detail: fmt.Sprintf("chain head says %d events ending %.16s…, the log has %d ending %.16s…", headSeq, headHash, rep.Events, rep.Head)}
	}
	return rep, nil
}

// rangeResult is one worker's walk over seq in [lo, hi) (unbounded below
// for the first range and above for the last, so stray rows are seen).
type rangeResult struct {
	lo, hi        int64
	open, openEnd bool
	first         int64 // expected first seq

	count     int64
	bytes     int64
	seen      bool // a first row was read (even if it failed a check)
	firstSeq  int64
	firstPrev []byte
	last      []byte
	problem   *Problem
	err       error
}

func (r *rangeResult) walk(ctx context.Context, db *sql.DB) error {
	q := `SELECT seq, at_unix_us, type, actor_type, actor_id, actor_display, request_id, purpose, action, policy_ref, payload, prev_hash, hash FROM audit_events`
	// Bounds are integers formatted here, so the query needs no
	// dialect-specific placeholders.
	lo, hi := strconv.FormatInt(r.lo, 10), strconv.FormatInt(r.hi, 10)
	switch {
	case r.open && r.openEnd:
	case r.open:
		q += ` WHERE seq < ` + hi
	case r.openEnd:
		q += ` WHERE seq >= ` + lo
	default:
		q += ` WHERE seq >= ` + lo + ` AND seq < ` + hi
	}
	rows, err := db.QueryContext(ctx, q+` ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("audit verify: query events: %w", err)
	}
	defer rows.Close()
	x := NewHasher()
	var f Fields
	var stored sql.RawBytes
	var prev []byte
	want := r.first
	if r.open {
		prev = []byte(GenesisHash)
	}
	for rows.Next() {
		if err := rows.Scan(&f.Seq, &f.AtUnixUS, (*sql.RawBytes)(&f.Type), (*sql.RawBytes)(&f.ActorType), (*sql.RawBytes)(&f.ActorID),
			(*sql.RawBytes)(&f.ActorDisplay), (*sql.RawBytes)(&f.RequestID), (*sql.RawBytes)(&f.Purpose), (*sql.RawBytes)(&f.Action),
			(*sql.RawBytes)(&f.PolicyRef), (*sql.RawBytes)(&f.Payload), (*sql.RawBytes)(&f.PrevHash), &stored); err != nil {
			return fmt.Errorf("audit verify: read event after %d: %w", want-1, err)
		}
		if !r.seen {
			r.seen, r.firstSeq, r.firstPrev = true, f.Seq, append([]byte(nil), f.PrevHash...)
			if prev == nil {
				prev = r.firstPrev // joined to the range before by Verify
			}
		}
		switch {
		case f.Seq != want:
			r.problem = &Problem{Seq: f.Seq, Kind: ProblemSequence, Detail: fmt.Sprintf("expected event %d, found %d", want, f.Seq), want: want}
		case !bytes.Equal(f.PrevHash, prev):
			r.problem = &Problem{Seq: f.Seq, Kind: ProblemLink, Detail: fmt.Sprintf("previous hash %.16s… does not match event %d (%.16s…)", f.PrevHash, want-1, prev)}
		default:
			if got := x.Sum(&f); !bytes.Equal(got, stored) {
				r.problem = &Problem{Seq: f.Seq, Kind: ProblemHash, Detail: fmt.Sprintf("contents hash to %.16s…, stored %.16s…", got, stored)}
			}
		}
		if r.problem != nil {
			return nil
		}
		r.bytes += int64(len(x.Encoded()))
		r.count++
		want++
		r.last = append(r.last[:0], stored...)
		prev = r.last
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit verify: read events: %w", err)
	}
	return nil
}
