package policy

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"
)

// plainActivation is how an evaluation's variables were built before the
// pooled, convert-once activation (vars.go): a map of Go values that CEL
// converts with reflection on every read. It is the reference the fast
// path is held to.
func plainActivation(in Input) (interpreter.Activation, error) {
	params := in.Params
	if params == nil {
		params = map[string]any{}
	}
	roles := in.Requester.Roles
	if roles == nil {
		roles = []string{}
	}
	windows := in.OpenWindows
	if windows == nil {
		windows = []string{}
	}
	at := in.Time
	if at.IsZero() {
		at = time.Now()
	}
	paramsVal := types.DefaultTypeAdapter.NativeToValue(params)
	return interpreter.NewActivation(map[string]any{
		"request":   celRequest{Action: in.Action, Params: paramsVal, Purpose: in.Purpose},
		"requester": celRequester{Type: in.Requester.Type, ID: in.Requester.ID, Name: in.Requester.Name, Roles: roles, Sponsor: in.Requester.Sponsor},
		"source":    celSource{Team: in.Source.Team, Channel: in.Source.Channel},
		"time":      at.UTC(),
		"window":    windows,
		// The fields as the qualified variables a checked condition reads
		// (newEnv), taken from the same Go values.
		"request.action": in.Action, "request.params": paramsVal, "request.purpose": in.Purpose,
		"requester.type": in.Requester.Type, "requester.id": in.Requester.ID, "requester.name": in.Requester.Name,
		"requester.roles": roles, "requester.sponsor": in.Requester.Sponsor,
		"source.team": in.Source.Team, "source.channel": in.Source.Channel,
	})
}

// evaluatePlain is Evaluate with the plain activation.
func evaluatePlain(t testing.TB, p *Policy, in Input) Outcome {
	t.Helper()
	act, err := plainActivation(in)
	if err != nil {
		t.Fatal(err)
	}
	return p.evaluate(&in, act)
}

// sameOutcome fails t when the fast and the plain evaluation differ in
// anything an outcome carries (errors compared by their text).
func sameOutcome(t *testing.T, what string, in Input, fast, plain Outcome) {
	t.Helper()
	if d := outcomeDiff(fast, plain); d != "" {
		t.Fatalf("%s, input %+v: %s", what, in, d)
	}
}

// TestFastVariablesMatchPlainOverTestdata evaluates every policy the
// repository ships (test data, the documented example, the demo policy,
// the fuzz corpus, the benchmark policies) against the requests of their
// cases files and many generated requests, with the pooled activation
// and with the plain one: the outcomes must be identical.
func TestFastVariablesMatchPlainOverTestdata(t *testing.T) {
	files := []string{"testdata/good.yaml", "../../docs/policy.example.yaml", "../../cmd/countersign/demopolicy/policy.yaml"}
	corpus, err := filepath.Glob("testdata/fuzz/FuzzParse/*")
	if err != nil {
		t.Fatal(err)
	}
	policies := map[string]*Policy{}
	for _, f := range files {
		policies[f] = mustLoad(t, f)
	}
	for _, f := range corpus {
		if p := corpusPolicy(t, f); p != nil {
			policies[f] = p
		}
	}
	policies["bench typical"] = benchPolicy(t, benchTypical)
	policies["bench every-rule-runs-cel"] = benchPolicy(t, benchEveryRuleRunsCEL)
	policies["bench every-rule-calls-functions"] = benchPolicy(t, benchEveryRuleCalls)
	if len(policies) < 6 {
		t.Fatalf("only %d policies to compare", len(policies))
	}
	var inputs []Input
	for _, f := range []string{"../../docs/policy.example.cases.yaml", "../../cmd/countersign/demopolicy/policy.cases.yaml"} {
		cases, err := LoadCases(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			inputs = append(inputs, c.Input)
		}
	}
	inputs = append(inputs, benchInput())
	evaluated := 0
	for name, p := range policies {
		rng := rand.New(rand.NewPCG(3, uint64(len(name))))
		all := append(append([]Input(nil), inputs...), generatedInputs(rng, p, 300)...)
		for _, in := range all {
			sameOutcome(t, name, in, p.Evaluate(in), evaluatePlain(t, p, in))
			evaluated++
		}
	}
	t.Logf("%d evaluations over %d policies", evaluated, len(policies))
}

// corpusPolicy parses a fuzz corpus entry (Go's corpus file format with
// one []byte value); nil when the file is one the parser refuses.
func corpusPolicy(t *testing.T, path string) *Policy {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(data), "\n", 2)
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "go test fuzz v1") {
		t.Fatalf("%s is not a corpus file", path)
	}
	var src string
	if _, err := fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lines[1]), "[]byte(")), "%q", &src); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	p, err := Parse("policy.yaml", []byte(src))
	if err != nil {
		return nil
	}
	return p
}

// generatedInputs makes n requests for p's actions with parameters of
// every kind a request can carry (and some it should not), random roles,
// windows, sources and times.
func generatedInputs(rng *rand.Rand, p *Policy, n int) []Input {
	actions := []string{ActionWindowOpen, "unknown"}
	for _, a := range p.Actions() {
		actions = append(actions, a.Name)
	}
	roles := append(p.Roles(), "nobody")
	var windows []string
	for _, w := range p.Windows() {
		windows = append(windows, w.Name)
	}
	windows = append(windows, "other")
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	values := []any{"prod", "staging", "api", "", int64(0), int64(3), int64(300), int64(-7), true, false, 2.5,
		[]any{"a", int64(1)}, map[string]any{"k": "v"}, []string{"x", "y"}}
	names := []string{"env", "service", "replicas", "database", "secret", "window", "duration", "steps", "n"}
	out := make([]Input, 0, n)
	for i := 0; i < n; i++ {
		var params map[string]any
		if rng.IntN(8) > 0 {
			params = map[string]any{}
			for j := rng.IntN(4); j > 0; j-- {
				params[pick(names)] = values[rng.IntN(len(values))]
			}
		}
		in := Input{
			Action: pick(actions), Params: params, Purpose: pick([]string{"", "INC-4211 restart", "because", "xyz"}),
			Requester: Requester{Type: pick([]string{"human", "agent"}), ID: pick([]string{"u1", ""}), Name: pick([]string{"alice", "bob", "carol", "deploy-bot"}),
				Sponsor: pick([]string{"", "carol"})},
			Source: Source{Team: pick([]string{"ops", ""}), Channel: pick([]string{"incidents", "town-square"})},
			Time:   time.Date(2026, 1, 1+rng.IntN(300), rng.IntN(24), 0, 0, 0, time.UTC),
		}
		for j := rng.IntN(3); j > 0; j-- {
			in.Requester.Roles = append(in.Requester.Roles, pick(roles))
		}
		for j := rng.IntN(3); j > 0; j-- {
			in.OpenWindows = append(in.OpenWindows, pick(windows))
		}
		out = append(out, in)
	}
	return out
}

// TestFastVariablesMatchPlainPerCondition holds each condition on its own
// (one rule, so its true, false and its error all show) equal between the
// two activations: every variable and field, presence tests, whole
// objects, comprehensions, conversions and run-time errors.
func TestFastVariablesMatchPlainPerCondition(t *testing.T) {
	conds := []string{
		`request.action == "a"`, `request.purpose.startsWith("x")`, `request.purpose.size() > 3`,
		`request.params.env == "prod"`, `request.params.n > 3`, `request.params.n + 1 > 0`, `string(request.params.n) == "5"`,
		`has(request.params.env)`, `"env" in request.params`, `request.params.size() == 2`,
		`request.params.exists(k, k == "env")`, `request.params.all(k, k != "")`,
		`request.params.nested.k == "v"`, `request.params.list[0] == "a"`, `request.params.list.size() == 2`,
		`request.params.missing == 1`, `request.params == {"env": "prod"}`, `dyn(request.params).env == "prod"`,
		`request == request`, `requester == requester`, `source == source`, `type(request) == type(requester)`,
		`has(request.action)`, `has(requester.sponsor)`, `has(source.team)`,
		`requester.type == "agent"`, `requester.id == "u1"`, `requester.name == "alice"`, `requester.sponsor == ""`,
		`"sre" in requester.roles`, `requester.roles.size() > 1`, `requester.roles.exists(r, r.startsWith("s"))`, `requester.roles == ["sre"]`,
		`source.team == "ops"`, `source.channel.endsWith("square")`,
		`time > timestamp("2026-03-01T00:00:00Z")`, `time.getHours() >= 10`, `string(time) != ""`,
		`"prod" in window`, `window.size() == 0`, `window == ["prod"]`,
		`request.purpose.lowerAscii().contains("inc")`, `request.params.env.upperAscii() == "PROD"`,
		// Reads by number (plan.go) and the shapes that keep CEL's own.
		`request.params["env"] == "prod"`, `request.params["n"] > 3`, `request.params["nested"]["k"] == "v"`,
		`request.params.nested["k"] == "v"`, `request.params.env in ["prod", "staging"]`, `request.purpose.matches("^be")`,
		`!(request.params.env == "prod")`, `request.params.env == "prod" ? requester.name == "alice" : source.team == "ops"`,
		`(request.params.env == "prod" || requester.name == "bob") && request.params.n > 3`,
		`[1, 2].exists(x, request.params.env == "prod" && x == 2)`, `request.params.map(k, request.params[k]).size() > 0`,
		`has(request.params.nested.k)`, `request.params.env == request.params.env`, `request.params.missing == request.params.env`,
		// matches() with a constant pattern (plan_regex.go).
		`requester.name.matches("^a.*e$")`, `matches(request.purpose, "caus")`, `request.params.env.matches("^pro")`,
		`request.params.n.matches("5")`, `request.purpose.matches(requester.name)`, `requester.name.matches("")`,
		`[1].exists(x, requester.name.matches("^al"))`, `request.purpose.matches("^b") == requester.name.matches("^a")`,
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range conds {
		p := mustParse(t, fmt.Sprintf("version: 1\nroles: {sre: {}}\nwindows: [{name: prod}]\nactions: [{name: a}]\nrules:\n  - {name: r, when: '%s', deny: x}\n", strings.ReplaceAll(c, "'", "''")))
		inputs := []Input{
			input("a", map[string]any{"env": "prod", "n": int64(5), "nested": map[string]any{"k": "v"}, "list": []any{"a", "b"}}),
			input("b", nil),
			input("a", map[string]any{"env": "prod"}),
		}
		inputs[0].OpenWindows = []string{"prod"}
		inputs[1].Requester = Requester{Type: "agent", Name: "bot", Sponsor: "carol"}
		own := celOwnProgram(t, c)
		seen := map[string]bool{}
		for _, in := range append(inputs, generatedInputs(rng, p, 100)...) {
			fast, plain := p.Evaluate(in), evaluatePlain(t, p, in)
			sameOutcome(t, c, in, fast, plain)
			// And the same as CEL alone: the condition compiled without
			// the qualified fields and without the program's decorators
			// (plan.go, plan_regex.go), run by Program.Eval.
			v, _, wantErr := own.Eval(unqualifiedActivation(in))
			if wantErr != nil {
				if fast.Err == nil || errors.Unwrap(fast.Err).Error() != wantErr.Error() {
					t.Fatalf("%s on %+v: %+v (%v), CEL alone fails with %v", c, in, fast, fast.Err, wantErr)
				}
			} else if want, _ := v.Value().(bool); fast.Err != nil || (fast.Rule == "r") != want {
				t.Fatalf("%s on %+v: %+v (%v), CEL alone gives %v", c, in, fast, fast.Err, want)
			}
			switch {
			case fast.Err != nil:
				seen["error"] = true
			case fast.Rule == "r":
				seen["true"] = true
			default:
				seen["false"] = true
			}
		}
		t.Logf("%-60s %v", c, seen)
	}
}

// celOwnProgram compiles src as CEL alone would: the environment without
// the qualified fields, no decorator of the program's, CEL's optimiser.
func celOwnProgram(t *testing.T, src string) cel.Program {
	t.Helper()
	env, err := cel.NewEnv(baseEnvOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	a, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		t.Fatalf("%s: %v", src, iss.Err())
	}
	prg, err := env.Program(a, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		t.Fatal(err)
	}
	return prg
}

// TestFastVariablesLeaveNothingBehind evaluates two different requests one
// after the other (the second reuses the first one's pooled activation):
// nothing of the first may show in the second.
func TestFastVariablesLeaveNothingBehind(t *testing.T) {
	p := mustParse(t, `version: 1
roles: {sre: {}}
windows: [{name: prod}]
actions: [{name: a}]
rules:
  - {name: env, when: 'has(request.params.env)', deny: env}
  - {name: role, when: '"sre" in requester.roles', deny: role}
  - {name: win, when: '"prod" in window', deny: win}
  - {name: who, when: 'requester.name == "alice" || source.team == "ops" || request.purpose == "because"', deny: who}
  - {name: rest, when: "true", auto_approve: {}}
`)
	first := input("a", map[string]any{"env": "prod"})
	first.OpenWindows = []string{"prod"}
	if out := p.Evaluate(first); out.Rule != "env" {
		t.Fatalf("first: %+v", out)
	}
	second := Input{Action: "a", Requester: Requester{Type: "human", Name: "bob"}, Time: first.Time}
	for i := 0; i < 3; i++ {
		if out := p.Evaluate(second); out.Rule != "rest" || out.Err != nil {
			t.Fatalf("second request, run %d: %+v", i, out)
		}
	}
}

// TestEvaluateAllocations counts what one evaluation allocates with 200
// rules that all run CEL, comparing fields or calling functions: it must
// not grow with the rules (it was two allocations per rule, 420 in all,
// for either).
func TestEvaluateAllocations(t *testing.T) {
	for _, kind := range []string{benchEveryRuleRunsCEL, benchEveryRuleCalls} {
		p := benchPolicy(t, kind)
		in := benchInput()
		allocs := testing.AllocsPerRun(200, func() {
			if out := p.Evaluate(in); out.Rule != "prod-changes" {
				t.Fatalf("matched %q", out.Rule)
			}
		})
		if allocs > 40 {
			t.Errorf("%s: %.0f allocations per evaluation of 200 rules, want at most 40", kind, allocs)
		}
		t.Logf("%s: %.0f allocations per evaluation", kind, allocs)
	}
}
