// Package benchtest holds what the benchmarks share: how per-call
// latencies are reported.
package benchtest

import (
	"math"
	"slices"
	"testing"
	"time"
)

// Percentile is the nearest-rank q-quantile (0 < q ≤ 1) of sorted: the
// smallest sample with at least q of all samples at or below it.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// ReportMicros sorts samples and reports their 50th and 99th percentiles
// as the metrics p50-µs and p99-µs.
func ReportMicros(b *testing.B, samples []time.Duration) {
	slices.Sort(samples)
	for _, p := range []struct {
		q    float64
		name string
	}{{0.50, "p50-µs"}, {0.99, "p99-µs"}} {
		b.ReportMetric(float64(Percentile(samples, p.q))/float64(time.Microsecond), p.name)
	}
}

// ReportMillis sorts samples and reports their 50th, 95th and 99th
// percentiles as the metrics p50-ms, p95-ms and p99-ms.
func ReportMillis(b *testing.B, samples []time.Duration) {
	slices.Sort(samples)
	for _, p := range []struct {
		q    float64
		name string
	}{{0.50, "p50-ms"}, {0.95, "p95-ms"}, {0.99, "p99-ms"}} {
		b.ReportMetric(float64(Percentile(samples, p.q))/float64(time.Millisecond), p.name)
	}
}
