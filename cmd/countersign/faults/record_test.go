//go:build faults

package faults

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/countersign/countersign/models/benchtest"
)

// Classes of an operation's result.
const (
	// classAck: the server said yes (2xx, or a slash reply confirming).
	classAck = "ack"
	// classRefused: a correct no (409 replayed to a race loser, a cancel
	// of a request no longer pending, a grant already expired).
	classRefused = "refused"
	// classError: the server answered, but with a failure (5xx, "could
	// not store", an answer that contradicts the stored state).
	classError = "error"
	// classNoAnswer: no HTTP answer (the process was killed, a timeout).
	classNoAnswer = "noanswer"
)

// outcome is one HTTP call of the load.
type outcome struct {
	kind    string
	replica int
	at      time.Time
	latency time.Duration
	status  int
	class   string
	// why names the error kind for errors and missing answers
	// ("http-500", "connection", "wrong-answer: …").
	why string
}

// recorder collects outcomes from every client.
type recorder struct {
	mu       sync.Mutex
	outs     []outcome
	answered atomic.Int64
	// unanswered counts calls that got no answer.
	unanswered atomic.Int64
	// errors counts answered calls that failed.
	errors atomic.Int64
	// events are kills, restarts and outages with their timings.
	events []string
	// recoveries are the times from a kill to ready again.
	recoveries []time.Duration
	kills      int
	// outages are the windows from a kill (of the server or of
	// PostgreSQL) to ready again, to tell errors during an outage from
	// errors outside one.
	outages []window
}

// window is a span of time.
type window struct{ from, to time.Time }

// during reports whether an outcome started or ended inside an outage.
func (r *recorder) during(o outcome) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.outages {
		if !o.at.After(w.to) && !o.at.Add(o.latency).Before(w.from) {
			return true
		}
	}
	return false
}

func (r *recorder) add(o outcome) {
	if o.class != classNoAnswer {
		r.answered.Add(1)
	} else {
		r.unanswered.Add(1)
	}
	if o.class == classError {
		r.errors.Add(1)
	}
	r.mu.Lock()
	r.outs = append(r.outs, o)
	r.mu.Unlock()
}

func (r *recorder) event(format string, a ...any) {
	r.mu.Lock()
	r.events = append(r.events, fmt.Sprintf(format, a...))
	r.mu.Unlock()
}

// recovered records an outage from..to; kill says it was a server kill.
func (r *recorder) recovered(from, to time.Time, kill bool) {
	r.mu.Lock()
	if kill {
		r.kills++
	}
	r.recoveries = append(r.recoveries, to.Sub(from))
	r.outages = append(r.outages, window{from, to})
	r.mu.Unlock()
}

func (r *recorder) outcomes() []outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]outcome(nil), r.outs...)
}

// stats summarises outcomes.
type stats struct {
	ops, ack, refused, errors, noAnswer int
	// errorKinds counts errors and missing answers by why.
	errorKinds map[string]int
	p50, p99   time.Duration
	// throughput is answered operations per second of wall time.
	throughput float64
	wall       time.Duration
}

// summarize computes stats over outs (latencies of answered calls).
func summarize(outs []outcome) stats {
	s := stats{errorKinds: map[string]int{}}
	var lats []time.Duration
	var first, last time.Time
	for _, o := range outs {
		s.ops++
		switch o.class {
		case classAck:
			s.ack++
		case classRefused:
			s.refused++
		case classError:
			s.errors++
			s.errorKinds[o.why]++
		case classNoAnswer:
			s.noAnswer++
			s.errorKinds[o.why]++
		}
		if o.class != classNoAnswer {
			lats = append(lats, o.latency)
		}
		if first.IsZero() || o.at.Before(first) {
			first = o.at
		}
		if end := o.at.Add(o.latency); end.After(last) {
			last = end
		}
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	s.p50, s.p99 = percentile(lats, 0.50), percentile(lats, 0.99)
	s.wall = last.Sub(first)
	if s.wall > 0 {
		s.throughput = float64(s.ops-s.noAnswer) / s.wall.Seconds()
	}
	return s
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	return benchtest.Percentile(sorted, p)
}

// line formats stats for the report.
func (s stats) line() string {
	return fmt.Sprintf("%d operations, %d acknowledged, %d refused (correctly), %d errors, %d unanswered%s; p50 %s, p99 %s; %.0f answered/s",
		s.ops, s.ack, s.refused, s.errors, s.noAnswer, kindsSuffix(s.errorKinds), ms(s.p50), ms(s.p99), s.throughput)
}

func kindsSuffix(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || (m[keys[i]] == m[keys[j]] && keys[i] < keys[j]) })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, m[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// ms renders a duration in milliseconds with one decimal.
func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// byKind groups outcomes by operation kind, in a stable order.
func byKind(outs []outcome) ([]string, map[string][]outcome) {
	m := map[string][]outcome{}
	for _, o := range outs {
		m[o.kind] = append(m[o.kind], o)
	}
	kinds := make([]string, 0, len(m))
	for k := range m {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds, m
}
