package policy

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/interpreter"
)

// TestQualifiedFieldsMeanTheFields: every condition of every policy the
// repository ships, compiled as the policy compiles it (fields declared as
// qualified variables) and compiled without those declarations (fields
// selected from request, requester, source), gives the same result or the
// same error on the same inputs — so reading `requester.name` as one
// variable changes nothing a rule means; and running all of a policy's
// conditions in one shared execution frame, as Evaluate does, gives each
// the result it has alone.
func TestQualifiedFieldsMeanTheFields(t *testing.T) {
	plainEnv, err := cel.NewEnv(baseEnvOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"testdata/good.yaml", "../../docs/policy.example.yaml", "../../cmd/countersign/demopolicy/policy.yaml"}
	policies := map[string]*Policy{"bench typical": benchPolicy(t, benchTypical), "bench every-rule-runs-cel": benchPolicy(t, benchEveryRuleRunsCEL), "bench every-rule-calls-functions": benchPolicy(t, benchEveryRuleCalls)}
	for _, f := range files {
		policies[f] = mustLoad(t, f)
	}
	compared, qualifiedReads := 0, 0
	for name, p := range policies {
		rng := rand.New(rand.NewPCG(7, uint64(len(name))))
		inputs := append([]Input{benchInput()}, generatedInputs(rng, p, 200)...)
		type pair struct {
			r   *rule
			old cel.Program
		}
		var rules []pair
		for _, r := range p.rules {
			src := r.outcome.Condition
			if src == "" || r.cond == nil {
				continue
			}
			if hasQualifiedIdent(r.cond) {
				qualifiedReads++
			}
			old, iss := plainEnv.Compile(src)
			if iss != nil && iss.Err() != nil {
				t.Fatalf("%s: %s: %v", name, src, iss.Err())
			}
			oldPrg, err := plainEnv.Program(old, cel.EvalOptions(cel.OptOptimize))
			if err != nil {
				t.Fatal(err)
			}
			rules = append(rules, pair{r, oldPrg})
		}
		for _, in := range inputs {
			// Every condition of the policy in turn, in one shared frame
			// as Evaluate runs them, and each alone without one.
			vars := p.vars.get(&in)
			frame, err := interpreter.NewExecutionFrame(vars)
			if err != nil {
				t.Fatal(err)
			}
			act := unqualifiedActivation(in)
			for _, c := range rules {
				src := c.r.outcome.Condition
				shared, sharedErr := c.r.cond.eval(vars, frame)
				got, gotErr := c.r.cond.eval(vars, nil)
				v, _, wantErr := c.old.Eval(act)
				want, _ := v.Value().(bool)
				if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || (gotErr == nil && got != want) {
					t.Fatalf("%s: %s on %+v: qualified %v (%v), fields %v (%v)", name, src, in, got, gotErr, want, wantErr)
				}
				if fmt.Sprint(sharedErr) != fmt.Sprint(gotErr) || shared != got {
					t.Fatalf("%s: %s on %+v: in the shared frame %v (%v), alone %v (%v)", name, src, in, shared, sharedErr, got, gotErr)
				}
				compared++
			}
			frame.Close()
			p.vars.put(vars)
		}
	}
	if qualifiedReads == 0 || compared < 1000 {
		t.Fatalf("%d comparisons, %d conditions reading a qualified field: the test compares nothing", compared, qualifiedReads)
	}
	t.Logf("%d evaluations compared; %d conditions read fields as qualified variables", compared, qualifiedReads)
}

// unqualifiedActivation is the activation of a condition compiled without
// the qualified fields: the three views and time and window.
func unqualifiedActivation(in Input) interpreter.Activation {
	act, err := plainActivation(in)
	if err != nil {
		panic(err)
	}
	return act
}

// hasQualifiedIdent reports whether c's checked form reads a field as a
// qualified variable.
func hasQualifiedIdent(c *compiled) bool {
	for _, f := range qualifiedFields() {
		for _, ref := range c.ast.NativeRep().ReferenceMap() {
			if ref.Name == f.name {
				return true
			}
		}
	}
	return false
}

// TestQualifiedFieldsCompileAsTheFields: a condition compiles with the
// qualified fields exactly when it compiles without them — a policy that
// loaded before loads now, one refused before is refused now.
func TestQualifiedFieldsCompileAsTheFields(t *testing.T) {
	plainEnv, err := cel.NewEnv(baseEnvOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	env, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{
		`request.params != null && request.params.x == 1`,
		`request.params[1] == "a"`,
		`size(request.params) > 0`,
		`"env" in request.params && request.params.env == "prod"`,
		`has(request.params.env)`,
		`request.params.replicas > 3`,
		`request.action == "restart" && request.purpose.startsWith("INC-")`,
		`requester.roles.exists(r, r == "sre") && requester.name != ""`,
		`"sre" in requester.roles`,
		`has(requester.name)`,
		`source.channel == "ops" || source.team == "x"`,
		`request == request`,
		`requester.sponsor == requester.id`,
		`request.params.x.y.z == 1`,
		`requester.name == 1`,
		`requester.nosuchfield == "x"`,
		`request.action + 1 == 2`,
		`requester.roles == "sre"`,
		`[request, requester].size() == 2`,
	} {
		_, oldIss := plainEnv.Compile(src)
		_, newIss := env.Compile(src)
		oldOK, newOK := oldIss == nil || oldIss.Err() == nil, newIss == nil || newIss.Err() == nil
		if oldOK != newOK {
			t.Errorf("%s: compiles without qualified fields %v (%v), with them %v (%v)", src, oldOK, oldIss.Err(), newOK, newIss.Err())
		}
	}
}
