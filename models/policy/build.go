package policy

import (
	"fmt"
	"strings"
)

// BuildOption adds rules to a policy made with Build.
type BuildOption func(*Policy) error

// Build assembles a Policy in code from a catalogue and options, without a
// policy file: for tests and for the demo until a file is configured. Each
// action is compiled; names must be unique. Without options the policy has
// no rules, so every request is denied (default deny).
func Build(ref string, actions []*Action, opts ...BuildOption) (*Policy, error) {
	p := &Policy{Ref: ref, byName: make(map[string]*Action, len(actions))}
	for _, a := range actions {
		if a == nil || strings.TrimSpace(a.Name) == "" {
			return nil, fmt.Errorf("policy: build: an action has no name")
		}
		if _, dup := p.byName[a.Name]; dup {
			return nil, fmt.Errorf("policy: build: action %s is declared twice", a.Name)
		}
		if err := a.Compile(); err != nil {
			return nil, fmt.Errorf("policy: build: %w", err)
		}
		p.actions = append(p.actions, a)
		p.byName[a.Name] = a
	}
	for _, o := range opts {
		if err := o(p); err != nil {
			return nil, fmt.Errorf("policy: build: %w", err)
		}
	}
	return p, nil
}

// RequireForAll appends a rule named name that matches every request and
// sends it to n distinct approvers holding any of roles.
func RequireForAll(name string, n int, roles ...string) BuildOption {
	return func(p *Policy) error {
		if n < 1 || n > 10 {
			return fmt.Errorf("rule %s: approvals must be between 1 and 10", name)
		}
		if len(roles) == 0 {
			return fmt.Errorf("rule %s: at least one approver role is needed", name)
		}
		p.rules = append(p.rules, &rule{
			outcome: Outcome{Kind: OutcomeRequire, Rule: name, Condition: "true", Approvals: n, Roles: append([]string(nil), roles...)},
			matches: func(Input) (bool, error) { return true, nil },
		})
		return nil
	}
}

// DenyAction appends a rule named name that denies every request for
// action with reason.
func DenyAction(name, action, reason string) BuildOption {
	return func(p *Policy) error {
		p.rules = append(p.rules, &rule{
			outcome: Outcome{Kind: OutcomeDeny, Rule: name, Condition: fmt.Sprintf("request.action == %q", action), Reason: reason},
			matches: func(in Input) (bool, error) { return in.Action == action, nil },
		})
		return nil
	}
}
