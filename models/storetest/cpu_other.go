//go:build !unix

package storetest

import "time"

// ProcessCPU is not measured on this system (see cpu_unix.go).
func ProcessCPU() time.Duration { return 0 }
