package policy

import (
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// Reads of the request's fields in a planned condition.
//
// CEL plans `requester.name` as an attribute: on every run it asks the
// activation for the variable by name (a string switch), converts the
// answer with the type adapter, and, for `request.params.env`, qualifies
// the parameter map by the key (a map lookup behind three interface
// calls). With 200 rules reading the same few fields that was 40 % of an
// evaluation. fieldReads replaces each such attribute, while CEL plans the
// program, with an instruction that takes the value an evaluation
// converted once (celVars) by its number. Anything else — a frame that is
// not an evaluation's own (the plain activation of the tests, a
// comprehension's scope), a parameter the request lacks, a presence test,
// an optional or further selection — runs CEL's own attribute, so every
// result and every error is the one CEL gives.

// fieldRead is a planned attribute read by number when the frame is an
// evaluation's (see above); ref is the attribute CEL planned.
type fieldRead struct {
	interpreter.InterpretableAttribute
	// field is the qualified field read (fieldNone when none), param the
	// slot of the parameter read (-1 when none).
	field fieldIndex
	param int
	// qualified is true once CEL added a qualifier after the read was
	// made: the read is then CEL's own until the planner hands the
	// attribute back (fieldReads.decorate).
	qualified bool
}

// Exec implements interpreter.InterpretableV2.
func (r *fieldRead) Exec(f *interpreter.ExecutionFrame) ref.Val {
	if !r.qualified {
		if vars, ok := f.Scope().(*celVars); ok {
			if r.field != fieldNone {
				return vars.field(r.field)
			}
			if v := vars.param(r.param); v != nil {
				return v
			}
		}
	}
	return r.InterpretableAttribute.Exec(f)
}

// Eval implements interpreter.Interpretable.
func (r *fieldRead) Eval(a interpreter.Activation) ref.Val {
	return interpreter.EvalActivation(a, r.Exec)
}

// AddQualifier implements interpreter.InterpretableAttribute: the read
// now means more than the field, so it stops reading by number.
func (r *fieldRead) AddQualifier(q interpreter.Qualifier) (interpreter.Attribute, error) {
	r.qualified = true
	return r.InterpretableAttribute.AddQualifier(q)
}

// fieldReads is the planner decorator of one condition's program: it
// makes the reads by number (see above; params numbers the parameters
// conditions read by name), plans matches() with a constant pattern as a
// regexMatch (plan_regex.go), and keeps the instruction planned for the
// condition's root expression (rootID), which eval may run directly (see
// finalRoot).
type fieldReads struct {
	params *paramSlots
	rootID int64
	root   interpreter.InterpretableV2
}

// decorate implements interpreter.InterpretableDecoratorV2. The planner
// calls it on every instruction it makes, children first, and once more
// on an attribute after it added a field selection or index to it.
func (d *fieldReads) decorate(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
	out, err := d.read(i)
	if err == nil {
		if m := matchOf(out); m != nil {
			out = m
		}
	}
	if err == nil && out.ID() == d.rootID {
		d.root = out
	}
	return out, err
}

// read replaces an attribute reading a qualified field or a parameter.
func (d *fieldReads) read(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
	if r, ok := i.(*fieldRead); ok {
		// Handed back after a plain selection or index (a presence test
		// wraps the attribute in an instruction of its own, which is
		// not this one): `request.params.NAME` or `request.params["NAME"]`
		// reads the parameter by number; anything longer is CEL's.
		if !r.qualified {
			return r, nil
		}
		if name, ok := paramSelection(r.InterpretableAttribute); ok && d.params != nil {
			return &fieldRead{InterpretableAttribute: r.InterpretableAttribute, field: fieldNone, param: d.params.slot(name)}, nil
		}
		return r.InterpretableAttribute, nil
	}
	a, ok := i.(interpreter.InterpretableAttribute)
	if !ok {
		return i, nil
	}
	name, quals, ok := variableOf(a)
	if !ok || len(quals) != 0 {
		return i, nil
	}
	if f := fieldNamed(name); f != fieldNone {
		return &fieldRead{InterpretableAttribute: a, field: f, param: -1}, nil
	}
	return i, nil
}

// finalRoot reports whether the instruction this decorator sees for the
// root expression e is the one the program runs. CEL applies its own
// decorators after the program's: constant folding replaces membership
// tests in constant lists, list and map literals and conversions of
// constants, the regular-expression decorators replace matches(). The
// roots they leave alone are the logical and comparison operators,
// attributes and literals; for any other root eval uses Program.Eval.
func finalRoot(e celast.Expr) bool {
	switch e.Kind() {
	case celast.IdentKind, celast.SelectKind, celast.LiteralKind:
		return true
	case celast.CallKind:
		switch e.AsCall().FunctionName() {
		case operators.LogicalAnd, operators.LogicalOr, operators.LogicalNot, operators.Conditional,
			operators.Equals, operators.NotEquals,
			operators.Less, operators.LessEquals, operators.Greater, operators.GreaterEquals:
			return true
		}
	}
	return false
}

// variableOf returns the variable an attribute reads and its qualifiers,
// when it reads exactly one declared variable.
func variableOf(a interpreter.InterpretableAttribute) (string, []interpreter.Qualifier, bool) {
	ns, ok := a.Attr().(interpreter.NamespacedAttribute)
	if !ok {
		return "", nil, false
	}
	names := ns.CandidateVariableNames()
	if len(names) != 1 {
		return "", nil, false
	}
	return names[0], ns.Qualifiers(), true
}

// paramSelection reports whether a reads one parameter by a constant
// name, `request.params.NAME` or `request.params["NAME"]`, and returns
// the name.
func paramSelection(a interpreter.InterpretableAttribute) (string, bool) {
	name, quals, ok := variableOf(a)
	if !ok || name != "request.params" || len(quals) != 1 || a.IsOptional() || quals[0].IsOptional() {
		return "", false
	}
	c, ok := quals[0].(interpreter.ConstantQualifier)
	if !ok {
		return "", false
	}
	key, ok := c.Value().(types.String)
	return string(key), ok
}

// paramSlots numbers the request parameters the conditions of one policy
// read by name; an evaluation converts those into celVars.params by
// number. Its zero value is ready. It is filled while the policy's rules
// are compiled and only read afterwards.
type paramSlots struct {
	index map[string]int
}

// slot returns name's number, giving it one if it has none.
func (s *paramSlots) slot(name string) int {
	if i, ok := s.index[name]; ok {
		return i
	}
	if s.index == nil {
		s.index = map[string]int{}
	}
	s.index[name] = len(s.index)
	return s.index[name]
}

// len is how many parameters are numbered.
func (s *paramSlots) len() int { return len(s.index) }
