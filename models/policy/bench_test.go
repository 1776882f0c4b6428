package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models/benchtest"
)

// The shapes of benchPolicy's rules.
const (
	// benchTypical rules are conjunctions of comparisons, most of which
	// the Go guards decide.
	benchTypical = "typical"
	// benchEveryRuleRunsCEL rules all need CEL to run: comparisons of
	// fields and parameters under || and &&.
	benchEveryRuleRunsCEL = "every-rule-runs-cel"
	// benchEveryRuleCalls rules all need CEL to run and call functions:
	// startsWith, a regular expression, membership in a list literal
	// (reported, no target).
	benchEveryRuleCalls = "every-rule-calls-functions"
)

// benchPolicy builds a policy of 200 rules over 40 actions in which the
// request under test matches only the last rule; kind is one of the
// shapes above.
func benchPolicy(tb testing.TB, kind string) *Policy {
	var b strings.Builder
	b.WriteString("version: 1\nroles:\n  sre: {}\n  dev: {}\nwindows: [{name: prod}]\nactions:\n")
	for a := 0; a < 40; a++ {
		fmt.Fprintf(&b, "  - {name: act-%d, params: [{name: env, allowed: [staging, prod]}, {name: service}, {name: replicas, type: int}]}\n", a)
	}
	b.WriteString("rules:\n")
	for i := 0; i < 199; i++ {
		var when string
		switch i % 4 {
		case 0:
			when = fmt.Sprintf(`request.action == "act-%d" && request.params.env == "prod" && "sre" in requester.roles`, i%40)
		case 1:
			when = fmt.Sprintf(`request.params.service == "svc-%d" && requester.type == "human"`, i)
		case 2:
			when = fmt.Sprintf(`source.channel == "chan-%d" || request.purpose.startsWith("INC-%d-")`, i, i)
		case 3:
			when = fmt.Sprintf(`"prod" in window && request.params.replicas > %d && requester.name == "user-%d"`, 100+i, i)
		}
		switch kind {
		case benchEveryRuleRunsCEL:
			when = fmt.Sprintf(`(request.params.service == "svc-%d" || requester.name == "user-%d") && request.params.replicas > %d`, i, i, i)
		case benchEveryRuleCalls:
			when = fmt.Sprintf(`request.purpose.startsWith("INC-%d-") || requester.name.matches("^user-%d$") || request.params.service in ["svc-%d", "svc-x%d"]`, i, i, i, i)
		}
		fmt.Fprintf(&b, "  - name: r%03d\n    when: '%s'\n    require: {approvals: 1, roles: [sre]}\n", i, strings.ReplaceAll(when, "'", "''"))
	}
	b.WriteString("  - name: prod-changes\n    when: 'request.params.env == \"prod\"'\n    require: {approvals: 2, roles: [sre]}\n")
	p, err := Parse("bench.yaml", []byte(b.String()))
	if err != nil {
		tb.Fatal(err)
	}
	if p.RuleCount() != 200 {
		tb.Fatalf("%d rules", p.RuleCount())
	}
	return p
}

func benchInput() Input {
	return Input{
		Action: "act-7", Params: map[string]any{"env": "prod", "service": "payments", "replicas": int64(3)}, Purpose: "OOM loop, INC-4211",
		Requester:   Requester{Type: "human", ID: "u1", Name: "alice", Roles: []string{"dev"}},
		Source:      Source{Team: "ops", Channel: "incidents"},
		Time:        time.Now(),
		OpenWindows: []string{"prod"},
	}
}

// BenchmarkEvaluate200Rules measures one request's evaluation against 200
// rules, matching the last; it reports the 50th and 99th percentile of the
// per-call times as p50-µs and p99-µs. Run it alone for the figure
// (`-bench 'Evaluate200Rules$'`): BenchmarkEvaluate200RulesPlain, run in
// the same process before it, leaves the collector a heap of garbage that
// lengthens this benchmark's tail.
func BenchmarkEvaluate200Rules(b *testing.B) { benchEvaluate200(b, false) }

// BenchmarkEvaluate200RulesPlain is BenchmarkEvaluate200Rules with the
// variables built as before the pooled activation (a map of Go values
// converted by reflection on every read): the reference the pooled
// activation is measured against.
func BenchmarkEvaluate200RulesPlain(b *testing.B) { benchEvaluate200(b, true) }

func benchEvaluate200(b *testing.B, plain bool) {
	for _, kind := range []string{benchTypical, benchEveryRuleRunsCEL, benchEveryRuleCalls} {
		b.Run(kind, func(b *testing.B) {
			p := benchPolicy(b, kind)
			in := benchInput()
			eval := p.Evaluate
			if plain {
				eval = func(in Input) Outcome { return evaluatePlain(b, p, in) }
			}
			if out := eval(in); out.Rule != "prod-changes" || out.Err != nil {
				b.Fatalf("matched %q (%v)", out.Rule, out.Err)
			}
			samples := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				out := eval(in)
				samples = append(samples, time.Since(t0))
				if out.Kind != OutcomeRequire {
					b.Fatal(out.Kind)
				}
			}
			b.StopTimer()
			benchtest.ReportMicros(b, samples)
		})
	}
}
