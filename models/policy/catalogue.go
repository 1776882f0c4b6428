package policy

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign/models"
)

// ParamType is the type of an action parameter.
type ParamType string

// The parameter types.
const (
	ParamString   ParamType = "string"
	ParamInt      ParamType = "int"
	ParamBool     ParamType = "bool"
	ParamDuration ParamType = "duration"
)

// Valid reports whether t is a known parameter type.
func (t ParamType) Valid() bool {
	return t == ParamString || t == ParamInt || t == ParamBool || t == ParamDuration
}

// Param describes one parameter of an action.
type Param struct {
	Name        string
	Type        ParamType
	Description string
	Required    bool
	// Allowed, when not empty, lists the only accepted values (in their
	// textual form).
	Allowed []string
	// Pattern, when set, is a regular expression the whole textual value
	// must match.
	Pattern string
	re      *regexp.Regexp
}

// Action is one entry of the catalogue: something that may be requested.
type Action struct {
	Name        string
	Description string
	Params      []Param
	// PurposeRequired refuses requests without a purpose.
	PurposeRequired bool
	// Executor names the executor that runs the action once approved.
	Executor string
	// Requesters lists the roles that may ask for this action; empty means
	// anyone. Help texts list only the actions a caller may ask for.
	Requesters []string
	// MCPTool is the upstream MCP tool that performs the action: a call
	// of it through the gateway is a request for this action, its
	// arguments the parameters. Empty for actions not reached over MCP.
	MCPTool string
}

// Compile checks the action's own definition and prepares its patterns.
// Policy loading calls it; tests and callers building actions by hand must
// too before ParseArgs or CheckParams.
func (a *Action) Compile() error {
	seen := map[string]bool{}
	for i := range a.Params {
		p := &a.Params[i]
		if p.Name == "" {
			return fmt.Errorf("action %s: parameter %d has no name", a.Name, i+1)
		}
		if seen[p.Name] {
			return fmt.Errorf("action %s: parameter %s is declared twice", a.Name, p.Name)
		}
		seen[p.Name] = true
		if p.Type == "" {
			p.Type = ParamString
		}
		if !p.Type.Valid() {
			return fmt.Errorf("action %s: parameter %s: unknown type %q (string, int, bool or duration)", a.Name, p.Name, p.Type)
		}
		if p.Pattern != "" {
			re, err := regexp.Compile(`^(?:` + p.Pattern + `)$`)
			if err != nil {
				return fmt.Errorf("action %s: parameter %s: pattern: %v", a.Name, p.Name, err)
			}
			p.re = re
		}
		for _, v := range p.Allowed {
			if _, err := p.convert(v); err != nil {
				return fmt.Errorf("action %s: parameter %s: allowed value %q: %v", a.Name, p.Name, v, err)
			}
		}
	}
	return nil
}

// Param returns the named parameter.
func (a *Action) Param(name string) (*Param, bool) {
	for i := range a.Params {
		if a.Params[i].Name == name {
			return &a.Params[i], true
		}
	}
	return nil, false
}

// MayRequest reports whether someone with roles may ask for this action.
func (a *Action) MayRequest(roles []string) bool {
	if len(a.Requesters) == 0 {
		return true
	}
	for _, r := range roles {
		if slices.Contains(a.Requesters, r) {
			return true
		}
	}
	return false
}

// Usage is a one-line synopsis, e.g. "restart service=<string> [env=prod|staging] -- purpose".
func (a *Action) Usage() string {
	var b strings.Builder
	b.WriteString(a.Name)
	for _, p := range a.Params {
		v := "<" + string(p.Type) + ">"
		if len(p.Allowed) > 0 {
			v = strings.Join(p.Allowed, "|")
		}
		if p.Required {
			fmt.Fprintf(&b, " %s=%s", p.Name, v)
		} else {
			fmt.Fprintf(&b, " [%s=%s]", p.Name, v)
		}
	}
	if a.PurposeRequired {
		b.WriteString(" -- purpose")
	} else {
		b.WriteString(" [-- purpose]")
	}
	return b.String()
}

// ParseArgs turns textual key=value arguments (from a chat command) into
// typed parameters. Unknown or missing parameters, wrong types, values
// outside Allowed or not matching Pattern are *models.ValidationError.
func (a *Action) ParseArgs(args map[string]string) (map[string]any, error) {
	out := make(map[string]any, len(args))
	for name, raw := range args {
		p, ok := a.Param(name)
		if !ok {
			return nil, a.unknown(name)
		}
		v, err := p.check(raw)
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, a.missing(out)
}

// CheckParams validates already-typed parameters (from the agent API's JSON
// body: numbers arrive as float64) and returns them normalised to the
// catalogue's types.
func (a *Action) CheckParams(params map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(params))
	for name, v := range params {
		p, ok := a.Param(name)
		if !ok {
			return nil, a.unknown(name)
		}
		raw, err := p.text(v)
		if err != nil {
			return nil, err
		}
		typed, err := p.check(raw)
		if err != nil {
			return nil, err
		}
		out[name] = typed
	}
	return out, a.missing(out)
}

func (a *Action) unknown(name string) error {
	names := make([]string, len(a.Params))
	for i, p := range a.Params {
		names[i] = p.Name
	}
	known := "it takes no parameters"
	if len(names) > 0 {
		known = "known: " + strings.Join(names, ", ")
	}
	return models.Invalid("params."+name, fmt.Sprintf("is not a parameter of %s (%s)", a.Name, known))
}

func (a *Action) missing(got map[string]any) error {
	for _, p := range a.Params {
		if _, ok := got[p.Name]; p.Required && !ok {
			return models.Invalid("params."+p.Name, fmt.Sprintf("is required by %s", a.Name))
		}
	}
	return nil
}

// check validates a textual value and converts it to the parameter's type.
func (p *Param) check(raw string) (any, error) {
	field := "params." + p.Name
	v, err := p.convert(raw)
	if err != nil {
		return nil, models.Invalid(field, err.Error())
	}
	if len(p.Allowed) > 0 && !slices.Contains(p.Allowed, raw) {
		return nil, models.Invalid(field, fmt.Sprintf("must be one of %s", strings.Join(p.Allowed, ", ")))
	}
	if p.re != nil && !p.re.MatchString(raw) {
		return nil, models.Invalid(field, fmt.Sprintf("must match %s", p.Pattern))
	}
	return v, nil
}

// convert parses raw as the parameter's type.
func (p *Param) convert(raw string) (any, error) {
	switch p.Type {
	case ParamInt:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("must be a whole number")
		}
		return n, nil
	case ParamBool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return nil, fmt.Errorf("must be true or false")
		}
		return b, nil
	case ParamDuration:
		d, err := time.ParseDuration(raw)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("must be a positive duration such as 30m or 2h")
		}
		// Durations are kept in their textual form: canonical JSON and
		// CEL both see the string the requester wrote.
		return raw, nil
	default:
		if len(raw) > 256 {
			return nil, fmt.Errorf("must be at most 256 bytes")
		}
		return raw, nil
	}
}

// text renders a JSON-decoded value as the textual form check expects,
// refusing values of the wrong JSON type.
func (p *Param) text(v any) (string, error) {
	field := "params." + p.Name
	switch p.Type {
	case ParamInt:
		switch n := v.(type) {
		case float64:
			if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
				return "", models.Invalid(field, "must be a whole number")
			}
			return strconv.FormatInt(int64(n), 10), nil
		case int64:
			return strconv.FormatInt(n, 10), nil
		case int:
			return strconv.Itoa(n), nil
		}
		return "", models.Invalid(field, "must be a whole number")
	case ParamBool:
		if b, ok := v.(bool); ok {
			return strconv.FormatBool(b), nil
		}
		return "", models.Invalid(field, "must be true or false")
	default:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return "", models.Invalid(field, "must be a string")
	}
}
