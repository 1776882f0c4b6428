package policy

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/safeyaml"
)

// Case is one sample request with the outcome a policy must give it, for
// `countersign policy test`.
type Case struct {
	Name      string
	Input     Input
	Kind      string // "action" or "window"
	Expect    Expectation
	rolesFrom string // "", "roles" or "mattermost"
}

// Expectation is what a case expects: an outcome kind (deny,
// auto_approve, require, or invalid when the catalogue refuses the
// request) and optionally the rule, approvals and roles.
type Expectation struct {
	Outcome   string
	Rule      string
	Approvals int
	Roles     []string
}

// CaseResult is how a case went.
type CaseResult struct {
	Case    Case
	Outcome Outcome
	// Invalid is the catalogue's refusal, when there was one.
	Invalid error
	Pass    bool
	// Why says what differed, when the case failed.
	Why string
}

type fileCase struct {
	Name    string `yaml:"name"`
	Request struct {
		Kind    string         `yaml:"kind"`
		Action  string         `yaml:"action"`
		Params  map[string]any `yaml:"params"`
		Purpose string         `yaml:"purpose"`
	} `yaml:"request"`
	Requester struct {
		Type    string   `yaml:"type"`
		ID      string   `yaml:"id"`
		Name    string   `yaml:"name"`
		Roles   []string `yaml:"roles"`
		Groups  []string `yaml:"idp_groups"`
		Sponsor string   `yaml:"sponsor"`
	} `yaml:"requester"`
	Source struct {
		Team    string `yaml:"team"`
		Channel string `yaml:"channel"`
	} `yaml:"source"`
	Time    string   `yaml:"time"`
	Windows []string `yaml:"windows"`
	Expect  struct {
		Outcome   string   `yaml:"outcome"`
		Rule      string   `yaml:"rule"`
		Approvals int      `yaml:"approvals"`
		Roles     []string `yaml:"roles"`
	} `yaml:"expect"`
}

// LoadCases reads a cases file: a YAML list of sample requests, each with
// request (action, params, purpose; kind window for window.open),
// requester (type, id, name, roles or idp_groups, sponsor; without roles
// and groups, the roles of the Mattermost user name), source, time
// (RFC 3339), windows (open change windows) and expect (outcome, rule,
// approvals, roles). Problems are a *LoadError with file:line.
func LoadCases(path string) ([]Case, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: cases: %w", err)
	}
	return ParseCases(path, data)
}

// ParseCases is LoadCases on bytes.
func ParseCases(file string, data []byte) ([]Case, error) {
	f, err := safeyaml.ParseBytes(file, data, 0)
	if err != nil {
		return nil, &LoadError{Problems: []Problem{yamlProblem(file, err)}}
	}
	var raw []fileCase
	if err := safeyaml.Decode(file, data, &raw, yaml.DisallowUnknownField()); err != nil {
		return nil, &LoadError{Problems: []Problem{yamlProblem(file, err)}}
	}
	ps := &positions{file: file, ast: f}
	if len(raw) == 0 {
		ps.addAt(1, 0, "no cases (the file must be a list of cases)")
	}
	var out []Case
	for i, fc := range raw {
		path := fmt.Sprintf("$[%d]", i)
		c := Case{Name: fc.Name, Kind: fc.Request.Kind}
		if c.Name == "" {
			c.Name = fmt.Sprintf("case %d", i+1)
		}
		if c.Kind == "" {
			c.Kind = string(models.KindAction)
			if fc.Request.Action == ActionWindowOpen {
				c.Kind = string(models.KindWindow)
			}
		}
		if fc.Request.Action == "" {
			ps.addf(path+".request", "%s: request.action is required", c.Name)
		}
		switch fc.Expect.Outcome {
		case string(OutcomeDeny), string(OutcomeAutoApprove), string(OutcomeRequire), "invalid":
		default:
			ps.addf(path+".expect.outcome", "%s: expect.outcome must be deny, auto_approve, require or invalid", c.Name)
		}
		at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
		if fc.Time != "" {
			if at, err = time.Parse(time.RFC3339, fc.Time); err != nil {
				ps.addf(path+".time", "%s: time %q is not RFC 3339 (2026-01-01T12:00:00Z)", c.Name, fc.Time)
			}
		}
		rtype := fc.Requester.Type
		if rtype == "" {
			rtype = string(models.ActorHuman)
		}
		c.Input = Input{
			Action: fc.Request.Action, Params: normalizeYAML(fc.Request.Params), Purpose: fc.Request.Purpose,
			Requester: Requester{Type: rtype, ID: fc.Requester.ID, Name: fc.Requester.Name, Roles: fc.Requester.Roles, Sponsor: fc.Requester.Sponsor},
			Source:    Source{Team: fc.Source.Team, Channel: fc.Source.Channel},
			Time:      at, OpenWindows: fc.Windows,
		}
		switch {
		case fc.Requester.Roles != nil:
			c.rolesFrom = "roles"
		case fc.Requester.Groups != nil:
			c.rolesFrom = "groups"
			c.Input.Requester.Roles = fc.Requester.Groups
		default:
			c.rolesFrom = "mattermost"
		}
		c.Expect = Expectation{Outcome: fc.Expect.Outcome, Rule: fc.Expect.Rule, Approvals: fc.Expect.Approvals, Roles: fc.Expect.Roles}
		out = append(out, c)
	}
	if len(ps.problems) > 0 {
		return nil, &LoadError{Problems: ps.problems}
	}
	return out, nil
}

// normalizeYAML turns YAML integers into int64, as the catalogue expects.
func normalizeYAML(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch n := v.(type) {
		case uint64:
			out[k] = int64(n)
		case int:
			out[k] = int64(n)
		default:
			out[k] = v
		}
	}
	return out
}

// Run checks one case against p: the request goes through the same
// catalogue checks as Submit, then Evaluate.
func (p *Policy) Run(c Case) CaseResult {
	in := c.Input
	switch c.rolesFrom {
	case "groups":
		in.Requester.Roles = p.RolesForIdPGroups(in.Requester.Roles)
	case "mattermost":
		in.Requester.Roles = p.RolesForMattermostUser(in.Requester.Name)
	}
	res := CaseResult{Case: c}
	in.Params, res.Invalid = p.CheckRequest(models.Kind(c.Kind), in.Action, in.Params, in.Purpose, in.Requester.Roles)
	if res.Invalid != nil {
		res.Pass = c.Expect.Outcome == "invalid"
		if !res.Pass {
			res.Why = fmt.Sprintf("the request is invalid (%v), want %s", res.Invalid, c.Expect.Outcome)
		}
		return res
	}
	res.Outcome = p.Evaluate(in)
	o := res.Outcome
	var diffs []string
	if string(o.Kind) != c.Expect.Outcome {
		diffs = append(diffs, fmt.Sprintf("outcome %s, want %s", o.Kind, c.Expect.Outcome))
	}
	if c.Expect.Rule != "" && o.Rule != c.Expect.Rule {
		got := o.Rule
		if got == "" {
			got = "(none: default deny)"
		}
		diffs = append(diffs, fmt.Sprintf("rule %s, want %s", got, c.Expect.Rule))
	}
	if c.Expect.Approvals != 0 && o.Approvals != c.Expect.Approvals {
		diffs = append(diffs, fmt.Sprintf("%d approvals, want %d", o.Approvals, c.Expect.Approvals))
	}
	if c.Expect.Roles != nil && strings.Join(o.Roles, ",") != strings.Join(c.Expect.Roles, ",") {
		diffs = append(diffs, fmt.Sprintf("roles %v, want %v", o.Roles, c.Expect.Roles))
	}
	res.Pass = len(diffs) == 0
	res.Why = strings.Join(diffs, "; ")
	return res
}
