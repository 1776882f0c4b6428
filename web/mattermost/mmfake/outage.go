package mmfake

import (
	"net/http"
)

// HangUp is the Outage status that closes each connection without an
// answer, as a crashed server or a dropped proxy connection does: the
// client sees a transport error, not an HTTP status.
const HangUp = -1

// Outage makes every API request fail until EndOutage: with status (503,
// 500, 429…) and a Mattermost error body, or with HangUp. Unlike FailNext
// it lasts as long as the test wants, whatever the number of calls, so a
// caller's probing and holding can be observed. Requests are still
// recorded, with the status answered (0 for HangUp).
func (s *Server) Outage(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = status
}

// EndOutage lets requests through again.
func (s *Server) EndOutage() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = 0
}

// MaxInFlight reports the most requests the fake was serving at the same
// time since it started (or since ResetRequests), so a test can tell that
// its caller really worked in parallel without timing anything.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

// failOutage answers r as the outage says; false when there is none.
func (s *Server) failOutage(w http.ResponseWriter) bool {
	s.mu.Lock()
	status := s.outage
	s.mu.Unlock()
	switch {
	case status == 0:
		return false
	case status == HangUp:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			// No connection to drop (an HTTP/2 stream): the closest
			// thing is a bare 502 from a proxy.
			w.WriteHeader(http.StatusBadGateway)
			return true
		}
		_ = conn.Close()
	default:
		writeError(w, status, "mmfake.outage", http.StatusText(status))
	}
	return true
}

// Barrier holds each of the next n API requests until all n have arrived,
// then lets them through together. A test uses it to prove that its
// caller really has n calls in flight at once: a caller that sends one
// call at a time never gets past the first, whose wait ends only when the
// client gives up.
func (s *Server) Barrier(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.barrier = &barrier{n: n, release: make(chan struct{})}
}

// barrier is a Barrier in progress.
type barrier struct {
	n, arrived int
	release    chan struct{}
}

// joinBarrier counts r into the current barrier, if any, and returns the
// channel that is closed when the barrier releases (nil when none).
func (s *Server) joinBarrier() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.barrier
	if b == nil {
		return nil
	}
	b.arrived++
	if b.arrived == b.n {
		close(b.release)
		s.barrier = nil
	}
	return b.release
}
