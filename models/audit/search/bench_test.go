package search_test

import (
	"context"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/countersign/countersign/models/audit/search"
	"github.com/countersign/countersign/models/audit/search/searchtest"
	"github.com/countersign/countersign/models/benchtest"
)

// largeBackends are the engines the 1M-event benchmarks run on.
var largeBackends = []string{"sqlite", "postgres"}

// BenchmarkSearchActorPurpose1M searches a 1,000,000-event log by actor
// (any capacity) and two purpose words, first page of 50, with actors and
// words drawn at random from the generated population. It reports the
// 50th, 95th and 99th percentile latency of the samples.
func BenchmarkSearchActorPurpose1M(b *testing.B) {
	actors := searchtest.LargeActors()
	benchSearches(b, 1, func(rng *rand.Rand) search.Query {
		return search.Query{
			Actor:   actors[rng.IntN(len(actors))],
			Purpose: searchtest.Verbs[rng.IntN(len(searchtest.Verbs))] + " " + searchtest.Services[rng.IntN(len(searchtest.Services))],
		}
	})
}

// BenchmarkSearchActorOnly1M searches a 1,000,000-event log by actor
// alone (any capacity), first page of 50: "what did this person do",
// where an active person has thousands of events and the page needs 51.
func BenchmarkSearchActorOnly1M(b *testing.B) {
	actors := searchtest.LargeActors()
	benchSearches(b, 3, func(rng *rand.Rand) search.Query {
		return search.Query{Actor: actors[rng.IntN(len(actors))]}
	})
}

// benchSearches runs the searches query draws (from a generator seeded
// with seed) on the 1,000,000-event log of each backend, after warmUp, and
// reports their latency percentiles and hits per search.
func benchSearches(b *testing.B, seed uint64, query func(*rand.Rand) search.Query) {
	for _, backend := range largeBackends {
		b.Run(backend, func(b *testing.B) {
			st := searchtest.Large(b, backend, searchtest.MillionEvents)
			s := search.NewSearcher(st)
			rng := rand.New(rand.NewPCG(seed, seed+1))
			warmUp(b, s, searchtest.LargeActors())
			var samples []time.Duration
			var hits int
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				q := query(rng)
				t0 := time.Now()
				page, err := s.Search(context.Background(), q)
				samples = append(samples, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				hits += len(page.Hits)
			}
			b.StopTimer()
			benchtest.ReportMillis(b, samples)
			b.ReportMetric(float64(hits)/float64(b.N), "hits/op")
		})
	}
}

// warmUp runs 300 searches untimed so the database pages a running server
// keeps in memory are in memory (the figures of a cold start are recorded
// separately in docs/BENCHMARKS.md).
func warmUp(b *testing.B, s *search.Searcher, actors []string) {
	rng := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 300; i++ {
		q := search.Query{Actor: actors[rng.IntN(len(actors))], Purpose: searchtest.Verbs[rng.IntN(len(searchtest.Verbs))] + " " + searchtest.Services[rng.IntN(len(searchtest.Services))]}
		if _, err := s.Search(context.Background(), q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSearchPurposePrefix1M searches by one common word and a prefix
// (the worst case for the full-text index: many matches).
func BenchmarkSearchPurposePrefix1M(b *testing.B) {
	for _, backend := range largeBackends {
		b.Run(backend, func(b *testing.B) {
			st := searchtest.Large(b, backend, searchtest.MillionEvents)
			s := search.NewSearcher(st)
			rng := rand.New(rand.NewPCG(3, 4))
			var samples []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				svc := searchtest.Services[rng.IntN(len(searchtest.Services))]
				q := search.Query{Purpose: searchtest.Verbs[rng.IntN(len(searchtest.Verbs))] + " " + svc[:2] + "*"}
				t0 := time.Now()
				if _, err := s.Search(context.Background(), q); err != nil {
					b.Fatal(err)
				}
				samples = append(samples, time.Since(t0))
			}
			b.StopTimer()
			benchtest.ReportMillis(b, samples)
		})
	}
}

// BenchmarkExport1M exports every event of the 1M-event log as CSV and as
// JSON Lines to io.Discard and reports events/s and MB/s.
func BenchmarkExport1M(b *testing.B) {
	for _, backend := range largeBackends {
		for _, format := range []search.ExportFormat{search.ExportCSV, search.ExportJSONL} {
			b.Run(backend+"/"+string(format), func(b *testing.B) {
				st := searchtest.Large(b, backend, searchtest.MillionEvents)
				s := search.NewSearcher(st)
				var events, bytes int64
				b.ResetTimer()
				start := time.Now()
				for i := 0; i < b.N; i++ {
					cw := &countingWriter{}
					n, err := s.Export(context.Background(), cw, format, search.Query{})
					if err != nil {
						b.Fatal(err)
					}
					events += n
					bytes += cw.n
				}
				secs := time.Since(start).Seconds()
				b.ReportMetric(float64(events)/secs, "events/s")
				b.ReportMetric(float64(bytes)/secs/1e6, "MB/s")
			})
		}
	}
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countingWriter)(nil)
