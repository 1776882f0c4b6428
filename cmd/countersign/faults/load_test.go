//go:build faults

package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// mix weighs the operations a client picks from.
type mix struct {
	agentStaging, agentProd, sameKey, slashStaging, slashProd, cancel, redeem int
}

// faultMix is the mixed load of the fault suite: creates of every kind,
// cancels of pending requests, redemptions (with results) of approved
// ones. Unredeemed staging grants expire after 10 s, so the sweeper
// moves requests too.
var faultMix = mix{agentStaging: 18, agentProd: 10, sameKey: 6, slashStaging: 12, slashProd: 14, cancel: 16, redeem: 16}

func (m mix) total() int {
	return m.agentStaging + m.agentProd + m.sameKey + m.slashStaging + m.slashProd + m.cancel + m.redeem
}

// load drives a deployment with concurrent clients.
type load struct {
	d     *deployment
	rec   *recorder
	led   *ledger
	http  *http.Client
	runID int64
	seq   atomic.Int64
	// mix of operations; raceWidth is how many clients send one
	// Idempotency-Key at once (spread over the replicas); raceShare is
	// the share of cancels and redemptions sent twice at once.
	mix       mix
	raceWidth int
	raceShare float64
}

func newLoad(d *deployment, clients int, seed int64) *load {
	return &load{
		d: d, rec: &recorder{}, led: newLedger(), http: newHTTPClient(clients), runID: seed % 1_000_000,
		mix: faultMix, raceWidth: 4, raceShare: 0.25,
	}
}

// stallAfter ends a load that got no answer at all for this long (a
// server that died on its own), instead of waiting for the test timeout.
const stallAfter = 90 * time.Second

// run starts clients goroutines that pick operations until ops answered
// operations are done and until (when not nil) keepGoing is closed. It
// returns an error when no call was answered for stallAfter.
func (l *load) run(ctx context.Context, clients, ops int, seed int64, keepGoing <-chan struct{}) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stalled atomic.Bool
	go func() {
		last, since := l.rec.answered.Load(), time.Now()
		for ctx.Err() == nil {
			time.Sleep(time.Second)
			if n := l.rec.answered.Load(); n != last {
				last, since = n, time.Now()
			} else if time.Since(since) > stallAfter {
				stalled.Store(true)
				cancel()
			}
		}
	}()
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(seed), uint64(i)))
			for ctx.Err() == nil {
				if l.rec.answered.Load() >= int64(ops) {
					if keepGoing == nil {
						return
					}
					select {
					case <-keepGoing:
						return
					default:
					}
				}
				before, errs := l.rec.unanswered.Load(), l.rec.errors.Load()
				l.step(ctx, rng)
				if l.rec.unanswered.Load() > before || l.rec.errors.Load() > errs {
					// The server or its database is down: back off
					// instead of spinning until it is back.
					time.Sleep(100 * time.Millisecond)
				}
			}
		}(i)
	}
	wg.Wait()
	if stalled.Load() {
		return fmt.Errorf("load stalled: no call answered for %s (%d answered before)", stallAfter, l.rec.answered.Load())
	}
	return nil
}

// replica picks the replica a call goes to.
func (l *load) replica(rng *rand.Rand) int { return rng.IntN(len(l.d.procs)) }

// step performs one operation (a raced one is several calls at once).
func (l *load) step(ctx context.Context, rng *rand.Rand) {
	m := l.mix
	n := rng.IntN(m.total())
	switch {
	case n < m.agentStaging:
		l.agentCreateRetrying(ctx, opAgentCreate, l.replica(rng), l.newAgentKey("staging"))
	case n < m.agentStaging+m.agentProd:
		l.agentCreateRetrying(ctx, opAgentCreate, l.replica(rng), l.newAgentKey("prod"))
	case n < m.agentStaging+m.agentProd+m.sameKey:
		env := "staging"
		if rng.IntN(2) == 0 {
			env = "prod"
		}
		l.sameKeyRace(ctx, l.newAgentKey(env), l.raceWidth, l.replica(rng))
	case n < m.agentStaging+m.agentProd+m.sameKey+m.slashStaging:
		l.slashCreate(ctx, l.replica(rng), l.requester(rng), "staging")
	case n < m.agentStaging+m.agentProd+m.sameKey+m.slashStaging+m.slashProd:
		l.slashCreate(ctx, l.replica(rng), l.requester(rng), "prod")
	case n < m.total()-m.redeem:
		r := l.led.takePending(rng)
		if r == nil {
			l.slashCreate(ctx, l.replica(rng), l.requester(rng), "prod")
			return
		}
		l.maybeRaced(rng, func(replica int) { l.slashCancel(ctx, replica, r) })
	default:
		r := l.led.takeApproved(rng)
		if r == nil {
			l.agentCreateRetrying(ctx, opAgentCreate, l.replica(rng), l.newAgentKey("staging"))
			return
		}
		l.redeemAndReport(ctx, rng, r)
	}
}

func (l *load) requester(rng *rand.Rand) *model.User {
	if rng.IntN(2) == 0 {
		return l.d.w.alice
	}
	return l.d.w.carol
}

// maybeRaced runs fn once, or twice at once on two replicas (one replica:
// twice on it) for raceShare of the calls.
func (l *load) maybeRaced(rng *rand.Rand, fn func(replica int)) {
	first := l.replica(rng)
	if rng.Float64() >= l.raceShare {
		fn(first)
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func(replica int) {
			defer wg.Done()
			fn(replica)
		}((first + i) % len(l.d.procs))
	}
	wg.Wait()
}

// sameKeyRace sends one key and body from width clients at the same
// instant, spread over the replicas from first on; each retries as an
// agent would.
func (l *load) sameKeyRace(ctx context.Context, k *keyRecord, width, first int) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < width; i++ {
		wg.Add(1)
		go func(replica int) {
			defer wg.Done()
			<-start
			l.agentCreateRetrying(ctx, opAgentSameKey, replica, k)
		}((first + i) % len(l.d.procs))
	}
	close(start)
	wg.Wait()
}

// redeemAndReport fetches the grant of an approved agent request, redeems
// it (sometimes twice at once), and reports the result after a win.
func (l *load) redeemAndReport(ctx context.Context, rng *rand.Rand, r *created) {
	a, ok := l.agentShow(ctx, l.replica(rng), r.id)
	if !ok || a.State != "approved" || a.Grant == "" {
		return
	}
	var won atomic.Bool
	l.maybeRaced(rng, func(replica int) {
		if l.agentRedeem(ctx, replica, r, a.Grant) {
			won.Store(true)
		}
	})
	if won.Load() {
		l.agentResult(ctx, l.replica(rng), r)
	}
}

// grantExpiry is how long after its creation an unredeemed staging grant
// is expired by the sweeper: its 10 s lifetime, the 30 s leeway granted
// on exp, and one 5 s sweep.
const grantExpiry = 45 * time.Second

// seedExpiring creates n auto-approved agent requests (16 at a time)
// whose grants nobody redeems, so that the sweeper moves them while a
// later load runs. measured false keeps their calls out of the figures
// (they are still in the ledger, so the checks cover them).
func (l *load) seedExpiring(ctx context.Context, n int, measured bool) {
	main := l.rec
	if !measured {
		l.rec = &recorder{}
	}
	var wg sync.WaitGroup
	jobs := make(chan struct{})
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for range jobs {
				k := l.newAgentKey("staging")
				l.agentCreateRetrying(ctx, opAgentCreate, i%len(l.d.procs), k)
			}
		}(i)
	}
	for i := 0; i < n; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	// These are for the sweeper: keep them out of the redemption pool.
	l.led.mu.Lock()
	l.led.approved = nil
	l.led.mu.Unlock()
	l.rec = main
}

// after returns a channel closed at t.
func after(t time.Time) <-chan struct{} {
	ch := make(chan struct{})
	time.AfterFunc(time.Until(t), func() { close(ch) })
	return ch
}

// waitAll polls until cond holds or timeout; it returns how long it took
// and whether cond held.
func waitAll(timeout time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < timeout {
		if cond() {
			return time.Since(start), true
		}
		time.Sleep(250 * time.Millisecond)
	}
	return time.Since(start), cond()
}
