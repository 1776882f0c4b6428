package policy

import (
	"slices"
	"sync/atomic"
)

// Policy is one loaded, validated policy file. It is immutable: reloading
// builds a new Policy and swaps it in a Holder.
type Policy struct {
	// Ref identifies this policy version in audit records and on request
	// pages: the file name and the SHA-256 of its bytes.
	Ref     string
	actions []*Action
	byName  map[string]*Action
	// byTool maps an upstream MCP tool to the action it performs.
	byTool map[string]string
	rules  []*rule
	roles  roleMap
	// windows are the change windows that may be opened, by name, and
	// windowOrder their file order.
	windows     map[string]Window
	windowOrder []string
	// vars recycles the activations of evaluations.
	vars varsPool
}

// roleMap says which people hold which policy roles.
type roleMap struct {
	// idpGroups maps an IdP group (claim value) to roles.
	idpGroups map[string][]string
	// mattermostUsers maps a Mattermost username (lower case) to roles.
	mattermostUsers map[string][]string
	// names are the declared roles.
	names map[string]bool
}

// Action returns the catalogue entry named name.
func (p *Policy) Action(name string) (*Action, bool) {
	a, ok := p.byName[name]
	return a, ok
}

// ActionForTool returns the action that the MCP tool performs: tool is
// looked up as "server/tool" first, then as the bare tool name.
func (p *Policy) ActionForTool(server, tool string) (*Action, bool) {
	name, ok := p.byTool[server+"/"+tool]
	if !ok {
		name, ok = p.byTool[tool]
	}
	if !ok {
		return nil, false
	}
	return p.Action(name)
}

// Actions returns the catalogue in file order.
func (p *Policy) Actions() []*Action { return slices.Clone(p.actions) }

// ActionsFor returns the actions someone holding roles may ask for.
func (p *Policy) ActionsFor(roles []string) []*Action {
	var out []*Action
	for _, a := range p.actions {
		if a.MayRequest(roles) {
			out = append(out, a)
		}
	}
	return out
}

// Holder keeps the policy in force and lets a reload swap it atomically.
// Readers call Current for each request and keep that one pointer for the
// whole evaluation.
type Holder struct {
	p atomic.Pointer[Policy]
}

// NewHolder returns a Holder with p in force.
func NewHolder(p *Policy) *Holder {
	h := &Holder{}
	h.p.Store(p)
	return h
}

// Current returns the policy in force.
func (h *Holder) Current() *Policy { return h.p.Load() }

// Swap puts p in force.
func (h *Holder) Swap(p *Policy) { h.p.Store(p) }

// RuleCount returns the number of rules.
func (p *Policy) RuleCount() int { return len(p.rules) }
