package mmfake

// ClearFaults drops every queued fault, so a test can stage one failure,
// observe it, and go on against a healthy server.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}
