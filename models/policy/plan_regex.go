package policy

import (
	"regexp"

	"cel.dev/cel-go/common/overloads"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// regexMatch is a planned `s.matches("constant")` with the expression
// compiled once. CEL's own constant-regex optimisation (which runs after
// the program's decorators) also compiles it once, but calls it through a
// variadic instruction that allocates the argument slice and boxes the
// subject string on every run: two allocations per rule. This
// instruction allocates nothing; any subject that is not a string runs
// CEL's call, so errors are CEL's. It implements only InterpretableV2, so
// CEL's optimisation leaves it alone.
type regexMatch struct {
	call    interpreter.InterpretableCall
	subject interpreter.InterpretableV2
	re      *regexp.Regexp
}

// matchOf returns the regexMatch for a call of matches() with a constant
// pattern that compiles, nil for anything else (left to CEL, which
// reports a pattern that does not compile when the policy loads).
func matchOf(i interpreter.InterpretableV2) *regexMatch {
	call, ok := i.(interpreter.InterpretableCall)
	if !ok || call.Function() != overloads.Matches {
		return nil
	}
	if o := call.OverloadID(); o != overloads.Matches && o != overloads.MatchesString {
		return nil
	}
	args := call.Args()
	if len(args) != 2 {
		return nil
	}
	pattern, ok := args[1].(interpreter.InterpretableConst)
	if !ok {
		return nil
	}
	s, ok := pattern.Value().(types.String)
	if !ok {
		return nil
	}
	re, err := regexp.Compile(string(s))
	if err != nil {
		return nil
	}
	return &regexMatch{call: call, subject: args[0], re: re}
}

// ID implements interpreter.Interpretable.
func (m *regexMatch) ID() int64 { return m.call.ID() }

// Exec implements interpreter.InterpretableV2: what String.Match gives for
// a string subject (regexp.MatchString with the same pattern).
func (m *regexMatch) Exec(f *interpreter.ExecutionFrame) ref.Val {
	if s, ok := m.subject.Exec(f).(types.String); ok {
		return types.Bool(m.re.MatchString(string(s)))
	}
	return m.call.Exec(f)
}

// Eval implements interpreter.Interpretable.
func (m *regexMatch) Eval(a interpreter.Activation) ref.Val {
	return interpreter.EvalActivation(a, m.Exec)
}
