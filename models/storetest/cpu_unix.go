//go:build unix

package storetest

import (
	"syscall"
	"time"
)

// ProcessCPU returns the CPU time (user and system) this process has used,
// for benchmarks that report CPU per operation: with SQLite that is all of
// a write's work but its wait for the disk, so it does not move with the
// disk's fsync latency; with PostgreSQL it is the client's share only.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
