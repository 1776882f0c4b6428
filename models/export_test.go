package models

// Queued reports how many transactions wait for the committer (tests use
// it to put jobs into one batch on purpose).
func (s *Store) Queued() int { return len(s.queue) }
