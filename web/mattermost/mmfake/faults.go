package mmfake

import (
	"cmp"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"
)

// Fault makes the fake misbehave for the next Times matching requests, so
// retry, backoff and timeout handling can be tested against real HTTP.
type Fault struct {
	// Method and PathPrefix select the requests; empty matches any.
	Method     string
	PathPrefix string
	// Status, when non-zero, is answered instead of the real response
	// (e.g. 500 or 503) with a Mattermost error body.
	Status int
	// AfterHandling serves the request for real first and only then
	// answers Status (502 when zero): the change happened but its answer
	// was lost, as behind a proxy that timed out. It tests that retried
	// creates are de-duplicated.
	AfterHandling bool
	// Delay is waited before answering (or before serving normally when
	// Status is zero). The wait ends early when the client gives up.
	Delay time.Duration
	// Times is how many matching requests the fault applies to; it must
	// be at least 1.
	Times int
}

// Inject queues a fault. Faults apply in the order injected; each request
// consumes at most one.
func (s *Server) Inject(f Fault) {
	if f.Times < 1 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// FailNext answers the next n API requests, whatever they are, with status.
func (s *Server) FailNext(n, status int) {
	s.Inject(Fault{Status: status, Times: n})
}

// SetLatency delays every response by d (0 turns it off), to test per-call
// timeouts and the latency budget of callers.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// PendingFaults reports how many fault applications are still queued, so a
// test can check its faults were actually hit.
func (s *Server) PendingFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.faults {
		n += f.Times
	}
	return n
}

// takeFault consumes the first fault matching r, if any.
func (s *Server) takeFault(r *http.Request) (Fault, time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	latency := s.latency
	for i, f := range s.faults {
		if (f.Method != "" && f.Method != r.Method) || !strings.HasPrefix(r.URL.Path, f.PathPrefix) {
			continue
		}
		taken := *f
		f.Times--
		if f.Times == 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return taken, latency, true
	}
	return Fault{}, latency, false
}

// faulty applies latency and injected faults before the real handler.
func (s *Server) faulty(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.failOutage(w) {
			return
		}
		if release := s.joinBarrier(); release != nil {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		f, latency, ok := s.takeFault(r)
		if wait := latency + f.Delay; wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if ok && f.AfterHandling {
			next.ServeHTTP(httptest.NewRecorder(), r)
			writeError(w, cmp.Or(f.Status, http.StatusBadGateway), "mmfake.injected_fault", "answer lost after handling")
			return
		}
		if ok && f.Status != 0 {
			writeError(w, f.Status, "mmfake.injected_fault", http.StatusText(f.Status))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ForgetPendingPostIDs drops the fake's memory of pending_post_ids, as a
// real server does when its short-lived de-duplication cache expires: a
// create repeated after that posts again. Tests use it to prove that
// callers find their earlier post instead of relying on the cache.
func (s *Server) ForgetPendingPostIDs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = map[string]string{}
}
