package policy

import (
	"fmt"
	"strings"
	"time"
)

// BuildOption adds rules to a policy made with Build.
type BuildOption func(*Policy) error

// Build assembles a Policy in code from a catalogue and options, without a
// policy file: for tests and for the demo until a file is configured. Each
// action is compiled; names must be unique. Without options the policy has
// no rules, so every request is denied (default deny).
func Build(ref string, actions []*Action, opts ...BuildOption) (*Policy, error) {
	p := &Policy{Ref: ref, byName: make(map[string]*Action, len(actions)), byTool: map[string]string{}}
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
		if prev, dup := p.byTool[a.MCPTool]; dup && a.MCPTool != "" {
			return nil, fmt.Errorf("policy: build: MCP tool %s is the tool of %s and %s", a.MCPTool, prev, a.Name)
		}
		p.actions = append(p.actions, a)
		p.byName[a.Name] = a
		if a.MCPTool != "" {
			p.byTool[a.MCPTool] = a.Name
		}
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
		return p.addBuiltRule(Outcome{Kind: OutcomeRequire, Rule: name, Condition: "true", Approvals: n, Roles: append([]string(nil), roles...)})
	}
}

// DenyAction appends a rule named name that denies every request for
// action with reason.
func DenyAction(name, action, reason string) BuildOption {
	return func(p *Policy) error {
		return p.addBuiltRule(Outcome{Kind: OutcomeDeny, Rule: name, Condition: fmt.Sprintf("request.action == %q", action), Reason: reason})
	}
}

// addBuiltRule compiles o.Condition with the same CEL environment as
// policy files and appends the rule.
func (p *Policy) addBuiltRule(o Outcome) error {
	env, err := newEnv()
	if err != nil {
		return err
	}
	c, issues := compile(env, o.Condition, &p.vars.params)
	if len(issues) > 0 {
		return fmt.Errorf("rule %s: %s", o.Rule, issues[0].msg)
	}
	p.rules = append(p.rules, &rule{outcome: o, cond: c})
	return nil
}

// WithWindow declares a change window that may be opened for at most max.
func WithWindow(name string, max time.Duration) BuildOption {
	return func(p *Policy) error {
		if _, dup := p.windows[name]; dup {
			return fmt.Errorf("window %s is declared twice", name)
		}
		if max <= 0 {
			max = DefaultWindowMaxDuration
		}
		if p.windows == nil {
			p.windows = map[string]Window{}
		}
		p.windows[name] = Window{Name: name, MaxDuration: max}
		p.windowOrder = append(p.windowOrder, name)
		return nil
	}
}
