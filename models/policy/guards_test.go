package policy

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestGuardsNeverChangeTheOutcome evaluates many requests with and without
// the Go pre-checks (action lists and guards): outcome, rule and error
// must be the same.
func TestGuardsNeverChangeTheOutcome(t *testing.T) {
	p := mustParse(t, `version: 1
roles: {sre: {}, dev: {}}
windows: [{name: prod}, {name: qa}]
actions:
  - {name: a, params: [{name: env}, {name: n, type: int}, {name: f, type: bool}]}
  - {name: b, params: [{name: env}]}
rules:
  - {name: r1, when: 'request.action == "a" && request.params.env == "prod" && "sre" in requester.roles', deny: x}
  - {name: r2, when: 'request.params.n == 3 && requester.type == "agent"', deny: x}
  - {name: r3, when: 'request.params.f == true && "qa" in window', auto_approve: {}}
  - {name: r4, when: 'source.channel == "ops" && request.purpose == "p" || requester.name == "bob"', deny: x}
  - {name: r5, when: 'request.params.env == "qa" && request.action in ["a", "b"]', require: {roles: [dev]}}
  - {name: r6, when: '"dev" in requester.roles && request.params.n > 1', require: {roles: [sre]}}
  - {name: r7, when: 'request.params.env != "prod"', auto_approve: {}}
`)
	// Evaluate reads only the rules; the rest of the policy stays out.
	bare := &Policy{}
	for _, r := range p.rules {
		c := *r
		c.actions, c.guards = nil, nil
		bare.rules = append(bare.rules, &c)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(xs ...any) any { return xs[rng.IntN(len(xs))] }
	for i := 0; i < 3000; i++ {
		params := map[string]any{}
		if rng.IntN(3) > 0 {
			params["env"] = pick("prod", "qa", "dev").(string)
		}
		if rng.IntN(2) == 0 {
			params["n"] = int64(rng.IntN(5))
		}
		if rng.IntN(2) == 0 {
			params["f"] = rng.IntN(2) == 0
		}
		in := input(pick("a", "b").(string), params)
		in.Requester.Type = pick("human", "agent").(string)
		in.Requester.Name = pick("alice", "bob").(string)
		in.Requester.Roles = [][]string{nil, {"sre"}, {"dev"}, {"sre", "dev"}}[rng.IntN(4)]
		in.OpenWindows = [][]string{nil, {"prod"}, {"qa"}}[rng.IntN(3)]
		in.Source.Channel = pick("ops", "dev").(string)
		in.Purpose = pick("p", "q").(string)
		got, want := p.Evaluate(in), bare.Evaluate(in)
		if got.Kind != want.Kind || got.Rule != want.Rule || fmt.Sprint(got.Err) != fmt.Sprint(want.Err) {
			t.Fatalf("input %+v:\n with guards %s %s %v\n without     %s %s %v", in, got.Kind, got.Rule, got.Err, want.Kind, want.Rule, want.Err)
		}
	}
}
