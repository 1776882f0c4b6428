//go:build !unix

package models

// freeBytes cannot tell free space here; the write probe alone decides.
func freeBytes(string) (uint64, bool) { return 0, false }
