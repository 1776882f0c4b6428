package benchtest

import (
	"fmt"
	"testing"
	"time"
)

// spin does n steps of integer work that touches no memory and calls
// nothing: its time varies only with what the host does to the process.
func spin(n int) uint64 {
	x := uint64(1)
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

var spinSink uint64

// BenchmarkHostNoise measures the host, not Countersign: calls of a fixed
// amount of pure CPU work (no memory, no allocation, no system call) of
// about 5, 10, 20 and 40 µs each, reported as p50-µs and p99-µs. Whatever
// separates a sub-benchmark's p99 from its p50 is the host interrupting
// the process (timer ticks, another tenant on the same core, the
// scheduler); docs/BENCHMARKS.md runs it beside the latency figures it
// qualifies. Run it as
//
//	go test ./models/benchtest/ -run '^$' -bench HostNoise -benchtime 20000x
func BenchmarkHostNoise(b *testing.B) {
	// Steps per µs, measured once: the sub-benchmarks are named by the
	// time their work takes on this host.
	const calibrate = 1 << 22
	t0 := time.Now()
	spinSink += spin(calibrate)
	perMicro := float64(calibrate) / float64(time.Since(t0).Microseconds()+1)
	for _, us := range []int{5, 10, 20, 40} {
		n := int(perMicro * float64(us))
		b.Run(fmt.Sprintf("%dus", us), func(b *testing.B) {
			samples := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				spinSink += spin(n)
				samples = append(samples, time.Since(t0))
			}
			ReportMicros(b, samples)
		})
	}
}
