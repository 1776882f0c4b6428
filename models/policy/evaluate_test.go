package policy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func input(action string, params map[string]any) Input {
	return Input{
		Action: action, Params: params, Purpose: "because",
		Requester: Requester{Type: "human", ID: "u1", Name: "alice", Roles: []string{"sre"}},
		Source:    Source{Team: "ops", Channel: "town-square"},
		Time:      time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC),
	}
}

func TestEvaluateOutcomeKinds(t *testing.T) {
	p := mustLoad(t, "testdata/good.yaml")
	agent := input("db.migrate", map[string]any{"env": "staging"})
	agent.Requester.Type = "agent"

	cases := []struct {
		name string
		in   Input
		kind OutcomeKind
		rule string
		expl string
	}{
		{"deny with reason (first rule wins over staging-auto)", agent, OutcomeDeny, "no-agent-prod-db",
			`denied: Agents may not migrate production databases, rule no-agent-prod-db, because requester.type == "agent" && request.action == "db.migrate"`},
		{"auto approve", input("restart", map[string]any{"service": "api", "env": "staging"}), OutcomeAutoApprove, "staging-auto",
			`approved automatically, rule staging-auto, because request.params.env == "staging"`},
		{"require outside the window falls through to the next rule", input("restart", map[string]any{"service": "api", "env": "prod"}), OutcomeRequire, "prod-changes",
			`2 approvals from sre needed, rule prod-changes, because request.params.env == "prod"`},
		{"window.open has its own rule", input(ActionWindowOpen, map[string]any{"window": "prod", "duration": "2h"}), OutcomeRequire, "window-open",
			`1 approval from sre-leads needed, rule window-open, because request.action == "window.open"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := p.Evaluate(c.in)
			if out.Kind != c.kind || out.Rule != c.rule || out.Err != nil {
				t.Fatalf("got %s by %q (err %v), want %s by %q", out.Kind, out.Rule, out.Err, c.kind, c.rule)
			}
			if out.Explanation != c.expl {
				t.Errorf("explanation\n got %s\nwant %s", out.Explanation, c.expl)
			}
		})
	}
}

func TestEvaluateWindowGatedRule(t *testing.T) {
	p := mustLoad(t, "testdata/good.yaml")
	in := input("restart", map[string]any{"service": "api", "env": "prod"})
	in.OpenWindows = []string{"prod"}
	out := p.Evaluate(in)
	if out.Kind != OutcomeRequire || out.Rule != "prod-in-window" {
		t.Fatalf("with window open: %s by %s", out.Kind, out.Rule)
	}
	if out.Approvals != 1 || !slices.Equal(out.Roles, []string{"sre"}) || out.Window != "prod" ||
		out.StepUp.MaxAge != 2*time.Minute || !slices.Equal(out.StepUp.ACR, []string{"mfa"}) ||
		out.GrantTTL != 5*time.Minute || out.RequestTTL != time.Hour ||
		!slices.Equal(out.Remind, []time.Duration{15 * time.Minute, 45 * time.Minute}) ||
		!slices.Equal(out.EscalateTo, []string{"sre-leads"}) || out.EscalateAfter != 30*time.Minute {
		t.Errorf("outcome = %+v", out)
	}
	if !strings.Contains(out.Explanation, "inside change window prod") {
		t.Errorf("explanation = %s", out.Explanation)
	}
	// Another window being open does not count.
	in.OpenWindows = []string{"other"}
	if out := p.Evaluate(in); out.Rule != "prod-changes" {
		t.Errorf("other window open: rule %s", out.Rule)
	}
}

func TestEvaluateFirstMatchAndDefaultDeny(t *testing.T) {
	p := mustParse(t, `version: 1
roles: {sre: {}}
actions: [{name: a}, {name: b}]
rules:
  - {name: first, when: 'request.purpose.startsWith("x")', deny: first}
  - {name: second, when: 'request.purpose.startsWith("x") || request.action == "b"', auto_approve: {}}
  - {name: third, when: 'request.action == "b"', require: {roles: [sre]}}
`)
	in := input("a", nil)
	in.Purpose = "xyz"
	if out := p.Evaluate(in); out.Rule != "first" || out.Kind != OutcomeDeny || out.Reason != "first" {
		t.Errorf("xyz: %+v", out)
	}
	in = input("b", nil)
	if out := p.Evaluate(in); out.Rule != "second" || out.Kind != OutcomeAutoApprove || out.GrantTTL != DefaultGrantTTL {
		t.Errorf("b: %+v", out)
	}
	in = input("a", nil)
	out := p.Evaluate(in)
	if out.Kind != OutcomeDeny || out.Rule != "" || out.Err != nil || !strings.Contains(out.Explanation, "default deny") {
		t.Errorf("nothing matches: %+v", out)
	}
}

func TestEvaluateRuntimeErrorDenies(t *testing.T) {
	p := mustParse(t, `version: 1
roles: {sre: {}}
actions: [{name: a, params: [{name: env}]}]
rules:
  - {name: needs-env, when: 'request.params.env == "prod"', deny: prod}
  - {name: rest, when: "true", auto_approve: {}}
`)
	out := p.Evaluate(input("a", map[string]any{}))
	if out.Kind != OutcomeDeny || out.Rule != "needs-env" || out.Err == nil {
		t.Fatalf("missing key: %+v", out)
	}
	if !strings.Contains(out.Err.Error(), "no such key") || !strings.Contains(out.Explanation, "failed to evaluate") {
		t.Errorf("err %v, explanation %q", out.Err, out.Explanation)
	}
	// With the key present the rule evaluates normally and the next matches.
	if out := p.Evaluate(input("a", map[string]any{"env": "dev"})); out.Rule != "rest" || out.Err != nil {
		t.Errorf("with env: %+v", out)
	}
}

func TestEvaluateCostLimit(t *testing.T) {
	p := mustParse(t, `version: 1
actions: [{name: a, params: [{name: s}]}]
rules:
  - name: heavy
    when: 'request.params.s.split("").map(x, request.params.s.split("").map(y, x + y)).size() > 0'
    auto_approve: {}
`)
	out := p.Evaluate(input("a", map[string]any{"s": strings.Repeat("a", 250)}))
	if out.Kind != OutcomeDeny || out.Err == nil || !strings.Contains(out.Err.Error(), "cost") {
		t.Errorf("expensive condition: %+v", out)
	}
}

func TestEvaluateVariables(t *testing.T) {
	p := mustParse(t, `version: 1
roles: {sre: {}, dev: {}}
windows: [{name: prod}]
actions: [{name: a, params: [{name: n, type: int}, {name: b, type: bool}]}]
rules:
  - name: all
    when: >-
      request.params.n > 3 && request.params.b && request.purpose == "because" &&
      requester.id == "u1" && requester.name == "alice" && "sre" in requester.roles &&
      requester.sponsor == "" && source.team == "ops" && source.channel == "town-square" &&
      time > timestamp("2026-01-01T00:00:00Z") && "prod" in window
    auto_approve: {}
`)
	in := input("a", map[string]any{"n": int64(5), "b": true})
	in.OpenWindows = []string{"prod"}
	if out := p.Evaluate(in); out.Rule != "all" || out.Err != nil {
		t.Errorf("all variables: %+v", out)
	}
	in.OpenWindows = nil
	if out := p.Evaluate(in); out.Rule != "" || out.Err != nil {
		t.Errorf("window closed: %+v", out)
	}
}

func TestHolderSwap(t *testing.T) {
	a := mustLoad(t, "testdata/good.yaml")
	b := mustParse(t, "version: 1\n")
	h := NewHolder(a)
	if h.Current() != a {
		t.Fatal("current is not a")
	}
	h.Swap(b)
	if h.Current() != b {
		t.Fatal("current is not b")
	}
}

// TestEvaluateParamsPresence: rules can ask whether a parameter was given
// (has) and read the map's size, with and without the parameter.
func TestEvaluateParamsPresence(t *testing.T) {
	p := mustParse(t, `version: 1
roles: {sre: {}}
actions: [{name: a, params: [{name: env}, {name: n, type: int}]}]
rules:
  - name: with-env
    when: has(request.params.env) && request.params.env == "prod" && request.params.size() == 2
    deny: prod
  - name: rest
    when: '!has(request.params.env)'
    auto_approve: {}
`)
	for _, tc := range []struct {
		params map[string]any
		rule   string
	}{
		{map[string]any{"env": "prod", "n": int64(1)}, "with-env"},
		{map[string]any{"env": "prod"}, ""},
		{map[string]any{"n": int64(1)}, "rest"},
		{nil, "rest"},
	} {
		if out := p.Evaluate(input("a", tc.params)); out.Rule != tc.rule || out.Err != nil {
			t.Errorf("params %v: rule %q err %v, want rule %q", tc.params, out.Rule, out.Err, tc.rule)
		}
	}
}

// TestEvaluateCostIsPerRule: rules share one execution frame per
// evaluation (compiled.eval), but a rule that counts its cost counts only
// its own: three conditions of 70 % of the limit each, among plain ones,
// all run within it and the last rule matches.
func TestEvaluateCostIsPerRule(t *testing.T) {
	heavy := `request.params.s.split("").map(x, request.params.s.split("").map(y, x + y)).size() > 100000`
	p := mustParse(t, `version: 1
actions: [{name: a, params: [{name: s}]}]
rules:
  - {name: plain1, when: 'request.params.s == "x"', auto_approve: {}}
  - {name: heavy1, when: '`+heavy+`', auto_approve: {}}
  - {name: plain2, when: 'request.params.s == "y"', auto_approve: {}}
  - {name: heavy2, when: '`+heavy+`', auto_approve: {}}
  - {name: heavy3, when: '`+heavy+`', auto_approve: {}}
  - {name: last, when: 'request.params.s.size() > 0', auto_approve: {}}
`)
	var tracked []string
	for _, r := range p.rules {
		if r.cond.tracked {
			tracked = append(tracked, r.outcome.Rule)
		}
	}
	if strings.Join(tracked, ",") != "heavy1,heavy2,heavy3" {
		t.Fatalf("rules counting their cost: %v", tracked)
	}
	// 20 characters: about 7,000 of the 10,000 units per heavy rule.
	for i := 0; i < 3; i++ {
		if out := p.Evaluate(input("a", map[string]any{"s": strings.Repeat("a", 20)})); out.Rule != "last" || out.Err != nil {
			t.Fatalf("evaluation %d: %+v", i, out)
		}
	}
	// One heavy rule over the limit still fails on its own.
	if out := p.Evaluate(input("a", map[string]any{"s": strings.Repeat("a", 30)})); out.Rule != "heavy1" || out.Err == nil || !strings.Contains(out.Err.Error(), "cost") {
		t.Fatalf("over the limit: %+v", out)
	}
}
