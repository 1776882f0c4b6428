// Package clocktest is the clock of the tests: it moves only when a test
// advances it, so expiry, timeouts and back-off are tested without
// sleeping. It is safe for concurrent use, as the services under test read
// it from their own goroutines.
package clocktest

import (
	"sync"
	"time"
)

// Clock stands at a time, or follows the wall clock, plus what the test
// has advanced it by.
type Clock struct {
	mu     sync.Mutex
	at     time.Time
	wall   bool
	offset time.Duration
}

// At returns a clock standing still at t.
func At(t time.Time) *Clock { return &Clock{at: t} }

// Wall returns a clock that follows the wall clock: for tests whose other
// side (a browser, a real HTTP peer) reads the wall clock too.
func Wall() *Clock { return &Clock{wall: true} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wall {
		return time.Now().Add(c.offset)
	}
	return c.at.Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}
