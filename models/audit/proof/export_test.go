package proof

// SetQuickLeaves bounds the event hashes one quick check may read, so tests
// reach the consistency-proof and pending paths with small logs.
func (ic *IntegrityCache) SetQuickLeaves(n int64) { ic.quickLeaves = n }
