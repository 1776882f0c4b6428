package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Group commit.
//
// Every change in Countersign appends to the one audit chain, so write
// transactions serialise on the chain head anyway, and each would pay for
// its own durable commit (an fsync) while holding it. The committer runs
// write transactions one after another on a single goroutine and, when
// several are waiting, puts them in one database transaction — each inside
// its own savepoint, so one that fails is rolled back alone — and commits
// them with one fsync. A caller's WithTx returns only after the commit that
// carries its change is durable, or with the error that undid it.
//
// The batch runs on the committer's own connection (writeconn.go), where
// the statements every transaction repeats stay prepared. Within a batch
// (batch.go) audit events are written late and together, and a job's
// savepoint is taken only before its first statement, so a job that only
// appends costs no statement of its own; on PostgreSQL the remaining
// statements are pipelined (pipeline_pg.go): a batch of appends is two
// round trips and one WAL flush.

// maxBatch bounds how many queued transactions share one commit.
const maxBatch = 64

// txTimeout bounds one batch so a stuck statement cannot hold the queue.
const txTimeout = 30 * time.Second

type txJob struct {
	ctx  context.Context
	fn   func(tx *gorm.DB) error
	done chan error
}

// jobContext is the context one job of a batch runs with: the batch's
// deadline and transaction-local values, and otherwise the job's own
// values (an idempotency key, a request id), never another job's. The
// job's own cancellation does not apply: once its turn has come, a job
// runs to the end so that its caller learns whether it committed.
type jobContext struct {
	context.Context // the batch's
	job             context.Context
}

// Value implements context.Context.
func (c jobContext) Value(key any) any {
	if _, ok := key.(txLocalKey); ok {
		return c.Context.Value(key)
	}
	return c.job.Value(key)
}

// runJob runs fn, turning a panic into an error so the committer survives.
func runJob(tx *gorm.DB, j *txJob) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store: transaction panicked: %v", r)
		}
	}()
	return j.fn(tx)
}

// commitLoop serves the queue until the store closes.
func (s *Store) commitLoop() {
	defer close(s.loopDone)
	for {
		var first *txJob
		select {
		case first = <-s.queue:
		case <-s.closing:
			return
		}
		s.runBatch(first)
	}
}

func (s *Store) runBatch(first *txJob) {
	if err := first.ctx.Err(); err != nil {
		first.done <- err
		return
	}
	// The batch's own context carries no caller's values: each job runs
	// with its own (jobContext), and only the deadline and the
	// transaction-local values are shared.
	ctx, cancel := context.WithTimeout(context.Background(), txTimeout)
	defer cancel()
	ctx, local := withTxLocal(ctx)
	// Lock order (chainhead.go): the chain head before anything else.
	head, err := s.w.begin(ctx)
	if err != nil {
		first.done <- err
		return
	}
	local.Put(chainHeadKey, head)
	b := &batch{w: s.w, dialect: s.dialect}
	tx := s.db.Session(&gorm.Session{Context: ctx, NewDB: true})
	tx.Statement.ConnPool = batchConn{b}
	run := func(j *txJob, savepoint bool) error {
		b.startJob(savepoint)
		err := runJob(tx.WithContext(jobContext{Context: ctx, job: j.ctx}), j)
		if err == nil {
			err = b.jobErr
		}
		return err
	}
	// The first job needs no savepoint: if it fails, the whole (one-job)
	// transaction is rolled back.
	if err := run(first, false); err != nil {
		s.w.rollback()
		first.done <- err
		return
	}
	batch := []*txJob{first}
	// Jobs that failed and were rolled back to their savepoint learn it
	// only once the batch has ended: a caller that lost a race to an
	// earlier job of the same batch (the same idempotency key, a cancel
	// of an already cancelled request) then reads the winner's committed
	// change when it looks, instead of the state before the batch — and a
	// retry cannot slip into the same, still open, batch.
	var failed []jobResult
	defer func() {
		for _, f := range failed {
			f.job.done <- f.err
		}
	}()
	for len(batch) < maxBatch && b.broken == nil {
		var j *txJob
		select {
		case j = <-s.queue:
		default:
		}
		if j == nil {
			break
		}
		if err := j.ctx.Err(); err != nil {
			j.done <- err
			continue
		}
		before := local.snapshot()
		if err := run(j, true); err != nil {
			local.restore(before)
			failed = append(failed, jobResult{j, err})
			if b.broken != nil {
				break
			}
			if err := b.undoJob(ctx); err != nil {
				s.failBatch(batch, err)
				return
			}
			continue
		}
		if b.broken != nil {
			batch = append(batch, j)
			break
		}
		if err := b.endJob(ctx); err != nil {
			s.failBatch(append(batch, j), err)
			return
		}
		batch = append(batch, j)
	}
	err = b.commit(ctx)
	for _, j := range batch {
		j.done <- err
	}
}

// jobResult is a job's outcome, held until its batch has ended.
type jobResult struct {
	job *txJob
	err error
}

// failBatch rolls the transaction back and fails every job kept in it.
func (s *Store) failBatch(batch []*txJob, err error) {
	s.w.rollback()
	for _, b := range batch {
		b.done <- err
	}
}
