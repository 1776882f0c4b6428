package notify

import (
	"context"
	"sync"
	"time"
)

// breaker tells the worker whether Mattermost is answering, so an outage
// costs one cheap probe per ProbeInterval instead of a failed attempt (and
// a growing backoff clock) per message.
//
// It is closed while deliveries work. When a delivery fails in a way that
// can mean Mattermost is down (no answer, 5xx, 429, 401, a timeout), the
// failure is checked with a probe: if the probe fails too, the breaker
// opens and the row is held (its attempt given back, due again at once);
// if the probe succeeds, Mattermost is up and the failure is the row's
// own, so it counts as an attempt with the usual backoff. While open, no
// rows are claimed; a probe runs every ProbeInterval (on the worker's
// clock), and the first one that succeeds closes the breaker, so every
// held row is due at once.
type breaker struct {
	probe    func(context.Context) error
	interval time.Duration
	now      func() time.Time

	// probeMu lets one probe run at a time: the rows failing together at
	// the start of an outage wait for one answer instead of each probing.
	probeMu sync.Mutex

	mu        sync.Mutex
	open      bool
	nextProbe time.Time
	// started numbers the probes begun; okSeq is the number of the last
	// probe that succeeded. A failure seen before a probe started that
	// then succeeded needs no probe of its own.
	started, okSeq uint64
}

func newBreaker(probe func(context.Context) error, interval time.Duration, now func() time.Time) *breaker {
	return &breaker{probe: probe, interval: interval, now: now}
}

// isOpen reports whether Mattermost is believed down.
func (b *breaker) isOpen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open
}

// mark returns the number of probes begun so far; a caller that fails
// after taking the mark passes it to down.
func (b *breaker) mark() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.started
}

// down answers, for a delivery that failed as an outage would after mark
// was taken, whether Mattermost is down: yes when the breaker is open, no
// when a probe begun since mark succeeded, else what a probe says now.
func (b *breaker) down(ctx context.Context, mark uint64) bool {
	b.probeMu.Lock()
	defer b.probeMu.Unlock()
	b.mu.Lock()
	open, ok := b.open, b.okSeq > mark
	b.mu.Unlock()
	if open || ok {
		return open
	}
	return !b.runProbe(ctx)
}

// due reports whether the breaker is open and its next probe may run.
func (b *breaker) due() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open && !b.now().Before(b.nextProbe)
}

// untilDue returns how long until the next probe of an open breaker may
// run (0 when it may run now).
func (b *breaker) untilDue() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(0, b.nextProbe.Sub(b.now()))
}

// retry probes an open breaker whose probe is due and reports whether it
// is closed now.
func (b *breaker) retry(ctx context.Context) bool {
	b.probeMu.Lock()
	defer b.probeMu.Unlock()
	if !b.due() {
		return !b.isOpen()
	}
	return b.runProbe(ctx)
}

// runProbe probes once (callers hold probeMu), opens or closes the
// breaker by the answer, and reports whether Mattermost answered.
func (b *breaker) runProbe(ctx context.Context) bool {
	b.mu.Lock()
	b.started++
	seq := b.started
	b.mu.Unlock()
	err := b.probe(ctx)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			b.open, b.nextProbe = true, b.now().Add(b.interval)
		}
		return false
	}
	b.open, b.okSeq = false, seq
	return true
}
