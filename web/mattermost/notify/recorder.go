package notify

import (
	"context"

	"github.com/countersign/countersign/models/outbox"
)

// maxRecordBatch bounds the results written in one transaction.
const maxRecordBatch = 64

// recorder writes delivery results for the deliveries in flight: the
// results that arrive while one batch is being written are written
// together in the next, with a few statements for the whole batch
// (outbox.Queue.Record) instead of a transaction job per message. Each
// delivery waits for its own result to be written, so a lane's next row
// is due only once the previous one is recorded. Results are written with
// a context of their own, even when the worker is stopping: what was sent
// should not be sent again by whoever takes the row next.
type recorder struct {
	w    *Worker
	in   chan *pendingResult
	done chan struct{}
}

// pendingResult is a result waiting to be written, and where to say how
// that went.
type pendingResult struct {
	res outbox.Result
	err chan error
}

// startRecorder starts a recorder; stop it once no delivery is left.
func (w *Worker) startRecorder() *recorder {
	r := &recorder{w: w, in: make(chan *pendingResult, w.cfg.Concurrency), done: make(chan struct{})}
	go r.loop()
	return r
}

// record writes res (with whatever else is waiting) and returns its error.
func (r *recorder) record(res outbox.Result) error {
	p := &pendingResult{res: res, err: make(chan error, 1)}
	r.in <- p
	return <-p.err
}

// stop ends the recorder after the results already handed in.
func (r *recorder) stop() {
	close(r.in)
	<-r.done
}

func (r *recorder) loop() {
	defer close(r.done)
	for first := range r.in {
		batch := []*pendingResult{first}
	gather:
		for len(batch) < maxRecordBatch {
			select {
			case p, ok := <-r.in:
				if !ok {
					break gather
				}
				batch = append(batch, p)
			default:
				break gather
			}
		}
		results := make([]outbox.Result, len(batch))
		for i, p := range batch {
			results[i] = p.res
		}
		ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
		errs := r.w.cfg.Queue.Record(ctx, r.w.cfg.Owner, results, r.w.cfg.Now().UTC())
		cancel()
		for i, p := range batch {
			p.err <- errs[i]
		}
	}
}
