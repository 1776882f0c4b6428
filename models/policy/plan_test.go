package policy

import (
	"fmt"
	"strings"
	"testing"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// oneRule parses a policy of one rule with condition cond over action a
// with parameters env, n and nested.
func oneRule(t *testing.T, cond string) *Policy {
	t.Helper()
	return mustParse(t, fmt.Sprintf("version: 1\nroles: {sre: {}}\nactions: [{name: a}]\nrules:\n  - {name: r, when: '%s', deny: x}\n", strings.ReplaceAll(cond, "'", "''")))
}

// runIn runs p's only rule in an evaluation's frame over vars.
func runIn(t *testing.T, p *Policy, vars *celVars) (bool, error) {
	t.Helper()
	frame, err := interpreter.NewExecutionFrame(vars)
	if err != nil {
		t.Fatal(err)
	}
	defer frame.Close()
	return p.rules[0].cond.eval(vars, frame)
}

// TestReadsByNumberAreTheOnesRun shows which reads the planner replaced.
// For a parameter, the evaluation's value by number is changed behind
// CEL's back (the parameter map CEL reads is not): a condition sees the
// change exactly when its read is by number. A field's read by number and
// CEL's read give the same cached value by construction, so for fields
// the planned reads are counted. Presence tests, longer selections, reads
// inside a comprehension's scope and programs that count their cost read
// what CEL reads.
func TestReadsByNumberAreTheOnesRun(t *testing.T) {
	in := input("a", map[string]any{"env": "prod", "n": int64(5), "nested": map[string]any{"k": "v"}})
	heavy := `request.params.env.split("").map(x, request.params.env.split("").map(y, x + y)).size() > 0`
	for _, tc := range []struct {
		cond string
		// sees is "changed" when the parameter is read by number.
		sees     string
		numbered int
	}{
		{`request.params.env == "changed"`, "changed", 1},
		{`request.params["env"] == "changed"`, "changed", 1},
		{`request.params.env.startsWith("change")`, "changed", 1},
		{`request.params.env == "changed" || requester.name == "x" || source.channel == "y"`, "changed", 3},
		{`requester.name == "alice" && "sre" in requester.roles`, "", 2},
		// CEL's own reads: the map's value.
		// (planned by number, but a comprehension's scope is not the
		// evaluation's frame)
		{`[1].exists(x, request.params.env == "prod")`, "prod", 1},
		{`has(request.params.env) && request.params.nested.k == "v"`, "prod", 0},
		{`request.params.nested.k == "v" && request.params.env == "changed"`, "changed", 1},
		{heavy + ` && request.params.env == "prod"`, "prod", 0},
	} {
		p := oneRule(t, tc.cond)
		if n := numberedReads(t, tc.cond); n != tc.numbered {
			t.Errorf("%s: %d reads by number, want %d", tc.cond, n, tc.numbered)
		}
		if tc.sees == "" {
			continue
		}
		p.vars.params.slot("env") // numbered even where no read by number asks for it
		vars := p.vars.get(&in)
		i := p.vars.params.index["env"]
		if v, ok := vars.param(i).(types.String); !ok || v != "prod" {
			t.Fatalf("%s: parameter env by number is %v", tc.cond, vars.param(i))
		}
		vars.paramVals[i] = types.String("changed")
		got, err := runIn(t, p, vars)
		p.vars.put(vars)
		if err != nil || !got {
			t.Errorf("%s: %v (%v), want true: the condition does not see %q", tc.cond, got, err, tc.sees)
		}
	}
}

// numberedReads plans cond as compile does and counts the reads by number
// in the program (a read CEL consumed through its attribute, a ternary's
// branch or an index key, counts but runs as CEL's); 0 for a condition
// that counts its cost, whose program keeps CEL's reads.
func numberedReads(t *testing.T, cond string) int {
	t.Helper()
	env, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	c, issues := compile(env, cond, &paramSlots{})
	if len(issues) > 0 {
		t.Fatalf("%s: %v", cond, issues)
	}
	if c.tracked {
		return 0
	}
	a := c.ast
	d := &fieldReads{params: &paramSlots{}, rootID: -1}
	var made []*fieldRead
	count := func(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
		out, err := d.decorate(i)
		if r, ok := out.(*fieldRead); ok {
			made = append(made, r)
		}
		return out, err
	}
	if _, err := env.Program(a, cel.EvalOptions(cel.OptOptimize), cel.CustomDecoratorV2(count)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range made {
		if !r.qualified {
			n++
		}
	}
	return n
}

// TestNumberedParameterOfAnotherRequest: a parameter read by number in
// one evaluation is gone in the next, whose request lacks it: CEL's "no
// such key" error, not the earlier value.
func TestNumberedParameterOfAnotherRequest(t *testing.T) {
	p := oneRule(t, `request.params.env == "prod"`)
	if p.vars.params.len() != 1 {
		t.Fatalf("%d parameters numbered, want 1 (env)", p.vars.params.len())
	}
	if out := p.Evaluate(input("a", map[string]any{"env": "prod"})); out.Rule != "r" || out.Err != nil {
		t.Fatalf("first: %+v", out)
	}
	for _, params := range []map[string]any{nil, {"other": "prod"}} {
		out := p.Evaluate(input("a", params))
		if out.Kind != OutcomeDeny || out.Err == nil || !strings.Contains(out.Err.Error(), "no such key: env") {
			t.Fatalf("params %v: %+v (%v)", params, out, out.Err)
		}
	}
}

// TestRootRunsDirectlyWhereItIsFinal: a condition runs its root
// instruction directly exactly when no CEL decorator can replace the root
// after the program's own (finalRoot), and never when it counts its cost.
func TestRootRunsDirectlyWhereItIsFinal(t *testing.T) {
	for _, tc := range []struct {
		cond   string
		direct bool
	}{
		{`request.params.env == "prod"`, true},
		{`requester.name != "x" && source.team == "ops"`, true},
		{`!(requester.name == "x")`, true},
		{`request.params.n > 3`, true},
		{`true`, true},
		{`has(request.params.env)`, true},
		{`requester.type == "human" ? true : false`, true},
		{`request.params.env in ["prod", "staging"]`, false},
		{`request.purpose.matches("^x")`, false},
		{`request.purpose.startsWith("x")`, false},
		{`requester.roles.exists(r, r == "sre")`, false},
		{`request.params.s.split("").map(x, request.params.s.split("").map(y, x + y)).size() > 100000`, false},
	} {
		c := oneRule(t, tc.cond).rules[0].cond
		if got := c.root != nil; got != tc.direct {
			t.Errorf("%s: root run directly %v, want %v (tracked %v)", tc.cond, got, tc.direct, c.tracked)
		}
	}
}

// panicking is an instruction that panics when it runs.
type panicking struct{}

func (panicking) ID() int64                                { return 1 }
func (panicking) Eval(interpreter.Activation) ref.Val      { panic("boom") }
func (panicking) Exec(*interpreter.ExecutionFrame) ref.Val { panic("boom") }

// TestPanickingConditionDenies: a condition run directly that panics
// denies the request as Program.Eval's recovery would, naming its rule,
// and the rules before it still ran; a panic outside a condition is not
// hidden.
func TestPanickingConditionDenies(t *testing.T) {
	p := mustParse(t, "version: 1\nactions: [{name: a}]\nrules:\n  - {name: first, when: 'requester.name == \"bob\"', deny: x}\n  - {name: second, when: 'requester.name == \"alice\"', auto_approve: {}}\n")
	p.rules[1].cond.root = panicking{}
	out := p.Evaluate(input("a", nil))
	if out.Kind != OutcomeDeny || out.Rule != "second" || out.Err == nil || !strings.Contains(out.Err.Error(), "internal error: boom") {
		t.Fatalf("%+v (%v)", out, out.Err)
	}
	if !strings.Contains(out.Explanation, "rule second failed to evaluate") {
		t.Fatalf("explanation %q", out.Explanation)
	}
	// A panic that is not a condition's (here a guard's) is not turned
	// into an outcome: it goes on to the caller.
	p.rules[1].guards = []guard{func(*Input) bool { panic("guard bug") }}
	func() {
		defer func() {
			if r := recover(); r != "guard bug" {
				t.Fatalf("a guard's panic: recovered %v", r)
			}
		}()
		out := p.Evaluate(input("a", nil))
		t.Fatalf("a guard's panic became an outcome: %+v", out)
	}()
	p.rules[1].guards = nil
	// The pooled activation went back and serves the next evaluation.
	if out := p.Evaluate(func() Input { in := input("a", nil); in.Requester.Name = "bob"; return in }()); out.Rule != "first" || out.Err != nil {
		t.Fatalf("next evaluation: %+v", out)
	}
}

// TestConstantRegexCompiledOnce: matches() with a constant pattern is
// planned as a regexMatch wherever it appears (also under && and !), with
// a pattern that is not constant it is CEL's call, and a pattern that does
// not compile still refuses the policy with CEL's message.
func TestConstantRegexCompiledOnce(t *testing.T) {
	for _, tc := range []struct {
		cond    string
		matches int
	}{
		{`request.purpose.matches("^INC-[0-9]+")`, 1},
		{`!requester.name.matches("^bot-") && matches(request.purpose, "x")`, 2},
		{`request.purpose.matches(requester.name)`, 0},
	} {
		d := &fieldReads{params: &paramSlots{}, rootID: -1}
		env, err := newEnv()
		if err != nil {
			t.Fatal(err)
		}
		a, iss := env.Compile(tc.cond)
		if iss != nil && iss.Err() != nil {
			t.Fatal(iss.Err())
		}
		found := 0
		count := func(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
			out, err := d.decorate(i)
			if _, ok := out.(*regexMatch); ok {
				found++
			}
			return out, err
		}
		if _, err := env.Program(a, cel.EvalOptions(cel.OptOptimize), cel.CustomDecoratorV2(count)); err != nil {
			t.Fatal(err)
		}
		if found != tc.matches {
			t.Errorf("%s: %d compiled matches, want %d", tc.cond, found, tc.matches)
		}
	}
	_, err := Parse("p.yaml", []byte("version: 1\nactions: [{name: a}]\nrules:\n  - {name: r, when: 'request.purpose.matches(\"(\")', deny: x}\n"))
	if err == nil || !strings.Contains(err.Error(), "error parsing regexp") {
		t.Fatalf("a pattern that does not compile: %v", err)
	}
}
