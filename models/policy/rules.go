package policy

import (
	"fmt"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
)

// Bounds on what a rule may ask for.
const (
	MaxApprovals = 10
	// DefaultGrantTTL is an execution grant's lifetime when the rule sets none.
	DefaultGrantTTL = 5 * time.Minute
)

// rule is one compiled rule.
type rule struct {
	outcome Outcome
	// cond is the compiled condition.
	cond *compiled
	// actions, when not nil, are the only actions the rule can match: from
	// the rule's actions: list or a top-level `request.action == "x"`
	// conjunct. Other requests skip the rule without running CEL, which
	// cannot change the result: a false conjunct makes && false.
	actions map[string]bool
	// guards are conjuncts Go decides without CEL (see guards.go).
	guards []guard
}

// skips reports whether in certainly does not meet the rule, decided in
// Go without running its condition: another action, a closed window, a
// false guard.
func (r *rule) skips(in *Input) bool {
	if r.actions != nil && !r.actions[in.Action] {
		return true
	}
	if w := r.outcome.Window; w != "" && !contains(in.OpenWindows, w) {
		return true
	}
	for _, g := range r.guards {
		if g(in) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (b *builder) rules(p *Policy, doc *fileDoc) {
	seen := map[string]bool{}
	for i, fr := range doc.Rules {
		path := fmt.Sprintf("$.rules[%d]", i)
		if !namePattern.MatchString(fr.Name) {
			b.addf(path+".name", "rule name %q must be lower-case letters, digits, '-' or '_', starting with a letter", fr.Name)
			continue
		}
		if seen[fr.Name] {
			b.addf(path+".name", "rule %s is declared twice", fr.Name)
			continue
		}
		seen[fr.Name] = true
		r := &rule{outcome: Outcome{Rule: fr.Name, Condition: strings.TrimSpace(fr.When)}}
		if !b.outcome(p, path, fr, &r.outcome) {
			continue
		}
		if len(fr.Actions) > 0 {
			r.actions = map[string]bool{}
			for j, a := range fr.Actions {
				b.knownAction(p, fmt.Sprintf("%s.actions[%d]", path, j), a)
				r.actions[a] = true
			}
		}
		if r.outcome.Condition == "" {
			b.addf(path, "rule %s has no when: condition (write when: \"true\" to match every request)", fr.Name)
			continue
		}
		c, issues := compile(b.env, r.outcome.Condition, &p.vars.params)
		if len(issues) > 0 {
			line, col := b.exprStart(path + ".when")
			for _, is := range issues {
				l, c := line, col
				if is.line > 1 {
					l, c = line+is.line-1, is.col
				} else if is.col > 0 && col > 0 {
					c = col + is.col - 1
				}
				b.addAt(l, c, "rule %s: CEL: %s", fr.Name, is.msg)
			}
			continue
		}
		r.cond = c
		lits := findLiterals(c.ast)
		for _, a := range lits.actions {
			b.knownAction(p, path+".when", a)
		}
		for _, role := range lits.roles {
			b.knownRole(p, path+".when", role)
		}
		for _, w := range lits.windows {
			b.knownWindow(p, path+".when", w)
		}
		if r.actions == nil {
			r.actions = requiredActions(c.ast)
		}
		r.guards = guardsOf(c.ast)
		p.rules = append(p.rules, r)
	}
}

// outcome reads the rule's single outcome into out.
func (b *builder) outcome(p *Policy, path string, fr fileRule, out *Outcome) bool {
	n := 0
	if fr.Deny != "" {
		n++
	}
	if fr.AutoApprove != nil {
		n++
	}
	if fr.Require != nil {
		n++
	}
	if n != 1 {
		b.addf(path, "rule %s must have exactly one outcome: deny (with a reason), auto_approve or require", fr.Name)
		return false
	}
	before := len(b.problems)
	switch {
	case fr.Deny != "":
		out.Kind, out.Reason = OutcomeDeny, strings.TrimSpace(fr.Deny)
	case fr.AutoApprove != nil:
		aa := fr.AutoApprove
		out.Kind = OutcomeAutoApprove
		out.GrantTTL = DefaultGrantTTL
		if aa.GrantTTL != "" {
			out.GrantTTL = b.duration(path+".auto_approve.grant_ttl", aa.GrantTTL, 10*time.Second, 24*time.Hour)
		}
		if aa.Window != "" {
			b.knownWindow(p, path+".auto_approve.window", aa.Window)
			out.Window = aa.Window
		}
	default:
		b.require(p, path+".require", fr.Require, out)
	}
	return len(b.problems) == before
}

func (b *builder) require(p *Policy, path string, rq *fileRequire, out *Outcome) {
	out.Kind = OutcomeRequire
	out.Approvals = rq.Approvals
	if out.Approvals == 0 {
		out.Approvals = 1
	}
	if out.Approvals < 1 || out.Approvals > MaxApprovals {
		b.addf(path+".approvals", "approvals must be between 1 and %d", MaxApprovals)
	}
	if len(rq.Roles) == 0 {
		b.addf(path, "require needs roles: (who may approve)")
	}
	for i, r := range rq.Roles {
		b.knownRole(p, fmt.Sprintf("%s.roles[%d]", path, i), r)
	}
	out.Roles = rq.Roles
	if rq.Window != "" {
		b.knownWindow(p, path+".window", rq.Window)
		out.Window = rq.Window
	}
	if su := rq.StepUp; su != nil {
		if su.MaxAge != "" {
			out.StepUp.MaxAge = b.duration(path+".step_up.max_age", su.MaxAge, 30*time.Second, time.Hour)
		}
		for i, a := range su.ACR {
			if strings.TrimSpace(a) == "" || strings.ContainsAny(a, " \t\n") {
				b.addf(fmt.Sprintf("%s.step_up.acr[%d]", path, i), "acr values are single words")
			}
		}
		out.StepUp.ACR = su.ACR
		switch su.Method {
		case "", StepUpMethodIdP:
		case StepUpMethodPasskey:
			out.StepUp.Passkey = true
		default:
			b.addf(path+".step_up.method", "must be %s or %s", StepUpMethodIdP, StepUpMethodPasskey)
		}
	}
	out.GrantTTL = DefaultGrantTTL
	if rq.GrantTTL != "" {
		out.GrantTTL = b.duration(path+".grant_ttl", rq.GrantTTL, 10*time.Second, 24*time.Hour)
	}
	if rq.TTL != "" {
		out.RequestTTL = b.duration(path+".ttl", rq.TTL, time.Minute, 30*24*time.Hour)
	}
	for i, s := range rq.Remind {
		d := b.duration(fmt.Sprintf("%s.remind[%d]", path, i), s, time.Minute, 30*24*time.Hour)
		if out.RequestTTL > 0 && d >= out.RequestTTL {
			b.addf(fmt.Sprintf("%s.remind[%d]", path, i), "reminder at %s comes after the request expires (ttl %s)", s, out.RequestTTL)
		}
		out.Remind = append(out.Remind, d)
	}
	for i, r := range rq.EscalateTo {
		b.knownRole(p, fmt.Sprintf("%s.escalate_to[%d]", path, i), r)
	}
	out.EscalateTo = rq.EscalateTo
	switch {
	case rq.EscalateAfter != "" && len(rq.EscalateTo) == 0:
		b.addf(path+".escalate_after", "escalate_after needs escalate_to (the roles to escalate to)")
	case rq.EscalateAfter == "" && len(rq.EscalateTo) > 0:
		b.addf(path+".escalate_to", "escalate_to needs escalate_after (when to escalate)")
	case rq.EscalateAfter != "":
		out.EscalateAfter = b.duration(path+".escalate_after", rq.EscalateAfter, time.Minute, 30*24*time.Hour)
	}
}

// requiredActions returns the actions a condition can only be true for,
// when its top level is `request.action == "x"` / `request.action in
// [...]`, alone or as a conjunct; nil when it does not say.
func requiredActions(a *cel.Ast) map[string]bool {
	var walk func(e celast.Expr) map[string]bool
	walk = func(e celast.Expr) map[string]bool {
		if e.Kind() != celast.CallKind {
			return nil
		}
		call := e.AsCall()
		args := call.Args()
		switch {
		case call.FunctionName() == operators.LogicalAnd:
			for _, arg := range args {
				if m := walk(arg); m != nil {
					return m
				}
			}
		case call.FunctionName() == operators.Equals && len(args) == 2:
			for i := 0; i < 2; i++ {
				if isSelect(args[i], "request", "action") && args[1-i].Kind() == celast.LiteralKind {
					return setOf(stringLits(args[1-i]))
				}
			}
		case call.FunctionName() == operators.In && len(args) == 2:
			if isSelect(args[0], "request", "action") && args[1].Kind() == celast.ListKind {
				lits := stringLits(args[1])
				if len(lits) == len(args[1].AsList().Elements()) {
					return setOf(lits)
				}
			}
		}
		return nil
	}
	return walk(a.NativeRep().Expr())
}

func setOf(list []string) map[string]bool {
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}
