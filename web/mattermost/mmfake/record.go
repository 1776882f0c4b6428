package mmfake

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Request is one API call the fake received. Tokens are never kept: UserID
// says whom the token belonged to, which is what tests assert on.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	// UserID is the authenticated caller, empty when authentication failed
	// or a fault answered first.
	UserID string
	Body   []byte
	// Status is the status code the fake answered with (0 while it is
	// being served, when the client went away before an answer, e.g. on a
	// client timeout, or when the fake hung up).
	Status int
	// At is when the request arrived (wall clock), so a load run can tell
	// when the first call after an outage came.
	At time.Time
}

type recordKey struct{}

// recorded appends every request to the record when it arrives (so the
// record is in arrival order), including the ones a fault or the
// authentication check answered, and fills in the status when it is
// answered.
func (s *Server) recorded(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body, At: at}
		s.mu.Lock()
		s.requests = append(s.requests, rec)
		s.inFlight++
		s.maxInFlight = max(s.maxInFlight, s.inFlight)
		s.mu.Unlock()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), recordKey{}, rec)))
		s.mu.Lock()
		rec.Status = sw.status
		s.inFlight--
		s.mu.Unlock()
	})
}

// setCaller notes the authenticated user on the request's record.
func (s *Server) setCaller(r *http.Request, userID string) {
	if rec, ok := r.Context().Value(recordKey{}).(*Request); ok {
		s.mu.Lock()
		rec.UserID = userID
		s.mu.Unlock()
	}
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// Unwrap lets http.ResponseController reach the connection (Outage with
// HangUp hijacks it).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// WriteHeader records the first status written.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records the implicit 200 of a body written without a status.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Requests returns a copy of every request received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = *r
	}
	return out
}

// ResetRequests forgets the requests received so far (and the most served
// at once), so a test can count only the calls of the step it examines.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
	s.maxInFlight = s.inFlight
}

// Count returns how many requests had this method and exact path (e.g.
// "GET", "/api/v4/users/"+id).
func (s *Server) Count(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}
