package notify

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countersign/countersign/models/clocktest"
)

// fakeProbe answers with err and counts its calls; while gate is set it
// waits on it, so concurrent callers can be made to overlap.
type fakeProbe struct {
	mu    sync.Mutex
	err   error
	calls atomic.Int64
	gate  chan struct{}
}

func (p *fakeProbe) probe(context.Context) error {
	p.calls.Add(1)
	p.mu.Lock()
	gate, err := p.gate, p.err
	p.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return err
}

// Deliveries failing together at the start of an outage share one probe;
// the breaker then opens and its next probe is due one interval later on
// the worker's clock; the first successful probe closes it.
func TestBreakerOneProbeForFailuresTogetherThenOnePerInterval(t *testing.T) {
	ctx := context.Background()
	clk := clocktest.At(time.Unix(1_800_000_000, 0))
	p := &fakeProbe{err: errors.New("503"), gate: make(chan struct{})}
	b := newBreaker(p.probe, time.Second, clk.Now)
	mark := b.mark()
	var wg sync.WaitGroup
	down := make(chan bool, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			down <- b.down(ctx, mark)
		}()
	}
	for p.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(p.gate) // the first probe answers only now: the others are queued behind it
	p.mu.Lock()
	p.gate = nil
	p.mu.Unlock()
	wg.Wait()
	close(down)
	for d := range down {
		if !d {
			t.Fatal("a delivery was told Mattermost is up during the outage")
		}
	}
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("%d probes for 8 failures together, want 1", n)
	}
	if !b.isOpen() || b.due() || b.untilDue() != time.Second {
		t.Fatalf("after the failed probe: open %v, due %v, until due %s", b.isOpen(), b.due(), b.untilDue())
	}
	if b.retry(ctx) || p.calls.Load() != 1 {
		t.Fatal("a probe ran before it was due")
	}
	clk.Advance(400 * time.Millisecond)
	if got := b.untilDue(); got != 600*time.Millisecond {
		t.Fatalf("until due %s, want 600ms", got)
	}
	clk.Advance(600 * time.Millisecond)
	if b.retry(ctx) || p.calls.Load() != 2 || b.untilDue() != time.Second {
		t.Fatalf("due probe: calls %d, until due %s", p.calls.Load(), b.untilDue())
	}
	clk.Advance(time.Second)
	p.mu.Lock()
	p.err = nil
	p.mu.Unlock()
	if !b.retry(ctx) || b.isOpen() || p.calls.Load() != 3 {
		t.Fatalf("Mattermost back: closed %v after %d probes", !b.isOpen(), p.calls.Load())
	}
}

// A failure seen before a probe that then succeeded needs no probe of its
// own; one seen after needs a new one.
func TestBreakerTrustsOnlyProbesBegunAfterTheFailure(t *testing.T) {
	ctx := context.Background()
	clk := clocktest.At(time.Unix(1_800_000_000, 0))
	p := &fakeProbe{}
	b := newBreaker(p.probe, time.Second, clk.Now)
	early := b.mark()
	if b.down(ctx, early) || p.calls.Load() != 1 {
		t.Fatalf("first failure: %d probes", p.calls.Load())
	}
	if b.down(ctx, early) || p.calls.Load() != 1 {
		t.Fatalf("a failure from before the last good probe probed again (%d)", p.calls.Load())
	}
	late := b.mark()
	if b.down(ctx, late) || p.calls.Load() != 2 {
		t.Fatalf("a failure after the last probe was not probed (%d)", p.calls.Load())
	}
}
