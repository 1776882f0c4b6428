package policy

import (
	"fmt"
	"strings"

	"cel.dev/cel-go/interpreter"
)

// Evaluate runs the rules in order and returns the first match's outcome.
// Nothing matching means deny. A rule whose condition fails at run time
// denies the request (fail closed) with Err set, so the caller can audit it.
// A rule tied to a change window matches only while that window is in
// in.OpenWindows.
func (p *Policy) Evaluate(in Input) Outcome {
	vars := p.vars.get(&in)
	defer p.vars.put(vars)
	return p.evaluate(&in, vars)
}

// evaluate runs the rules with act holding in's CEL variables.
func (p *Policy) evaluate(in *Input, act interpreter.Activation) (out Outcome) {
	// One execution frame for every rule the request meets (compiled.eval).
	frame, err := interpreter.NewExecutionFrame(act)
	if err != nil {
		frame = nil // each rule then makes its own, as CEL does
	} else {
		defer frame.Close()
	}
	// A condition run directly in the frame (compiled.eval) that panics
	// fails as Program.Eval fails it: an internal error of that rule,
	// which denies the request. A panic anywhere else is not a
	// condition's and goes on.
	var running *rule
	defer func() {
		if running != nil {
			if r := recover(); r != nil {
				out = failed(running, fmt.Errorf("internal error: %v", r))
			}
		}
	}()
	for _, r := range p.rules {
		if r.skips(in) {
			continue
		}
		running = r
		ok, err := r.cond.eval(act, frame)
		running = nil
		if err != nil {
			return failed(r, err)
		}
		if ok {
			out := r.outcome
			out.Roles = append([]string(nil), out.Roles...)
			out.Explanation = explain(out)
			return out
		}
	}
	return Outcome{Kind: OutcomeDeny, Reason: "no policy rule allows this request", Explanation: "denied: no rule matched (default deny)"}
}

// failed is the outcome of a rule whose condition could not be evaluated:
// the request is denied (fail closed) and Err says why.
func failed(r *rule, err error) Outcome {
	out := Outcome{
		Kind: OutcomeDeny, Rule: r.outcome.Rule, Condition: r.outcome.Condition,
		Reason: "the policy could not be evaluated for this request",
		Err:    fmt.Errorf("policy: rule %s: %w", r.outcome.Rule, err),
	}
	out.Explanation = fmt.Sprintf("denied: rule %s failed to evaluate (%v)", r.outcome.Rule, err)
	return out
}

// explain says an outcome in plain words.
func explain(o Outcome) string {
	var b strings.Builder
	switch o.Kind {
	case OutcomeDeny:
		b.WriteString("denied")
		if o.Reason != "" {
			b.WriteString(": " + o.Reason)
		}
	case OutcomeAutoApprove:
		b.WriteString("approved automatically")
		if o.Window != "" {
			fmt.Fprintf(&b, " inside change window %s", o.Window)
		}
	case OutcomeRequire:
		noun := "approvals"
		if o.Approvals == 1 {
			noun = "approval"
		}
		fmt.Fprintf(&b, "%d %s from %s needed", o.Approvals, noun, strings.Join(o.Roles, " or "))
		if o.Window != "" {
			fmt.Fprintf(&b, " inside change window %s", o.Window)
		}
		if o.StepUp.Passkey {
			b.WriteString(", each signed with a passkey")
		}
	}
	fmt.Fprintf(&b, ", rule %s", o.Rule)
	if c := strings.TrimSpace(o.Condition); c != "" && c != "true" {
		fmt.Fprintf(&b, ", because %s", strings.Join(strings.Fields(c), " "))
	}
	return b.String()
}
