package policy

import (
	"fmt"
	"reflect"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
)

// CostLimit bounds the work one rule condition may do for one request
// (CEL's abstract cost units). A condition that exceeds it fails, and the
// request is denied (fail closed).
const CostLimit = 10_000

// MaxConditionLen bounds a rule condition's source text.
const MaxConditionLen = 4096

// The CEL view of a request. Field names are the ones rules use. The
// unexported fields hold the exported ones as CEL values, converted on the
// first read of an evaluation (see vars.go); CEL's reflection sees only the
// exported fields.
type (
	celRequest struct {
		Action  string  `cel:"action"`
		Params  ref.Val `cel:"params"`
		Purpose string  `cel:"purpose"`

		fast            bool
		action, purpose ref.Val
	}
	celRequester struct {
		Type    string   `cel:"type"`
		ID      string   `cel:"id"`
		Name    string   `cel:"name"`
		Roles   []string `cel:"roles"`
		Sponsor string   `cel:"sponsor"`

		fast                             bool
		typ, id, name, roles, sponsorVal ref.Val
	}
	celSource struct {
		Team    string `cel:"team"`
		Channel string `cel:"channel"`

		fast          bool
		team, channel ref.Val
	}
)

// newEnv declares the variables every condition may use:
//
//	request   {action string, params map(string, dyn), purpose string}
//	requester {type, id, name string, roles list(string), sponsor string}
//	source    {team, channel string}
//	time      timestamp
//	window    list(string) of open change windows
//
// Each field is also declared as a qualified variable of its own
// ("requester.name", "request.params", …): CEL's checker resolves
// `requester.name` to the longest declared name, so a rule reads the field
// with one lookup in the activation (celVars.ResolveName answers it from
// the value converted once per evaluation) instead of resolving
// `requester` and then qualifying it by "name" — for each of 200 rules,
// that resolution was 40 % of an evaluation. The meaning is the same: the
// qualified variable holds exactly the field's value.
func newEnv() (*cel.Env, error) {
	opts := baseEnvOptions()
	for _, f := range qualifiedFields() {
		opts = append(opts, cel.Variable(f.name, f.typ))
	}
	return cel.NewEnv(opts...)
}

// baseEnvOptions are newEnv's declarations without the qualified fields.
func baseEnvOptions() []cel.EnvOption {
	return []cel.EnvOption{
		ext.NativeTypes(ext.ParseStructTags(true),
			reflect.TypeOf(celRequest{}), reflect.TypeOf(celRequester{}), reflect.TypeOf(celSource{})),
		cel.Variable("request", cel.ObjectType("policy.celRequest")),
		cel.Variable("requester", cel.ObjectType("policy.celRequester")),
		cel.Variable("source", cel.ObjectType("policy.celSource")),
		cel.Variable("time", cel.TimestampType),
		cel.Variable("window", cel.ListType(cel.StringType)),
		ext.Strings(),
		fastFields(),
	}
}

// qualifiedField is a field of request, requester or source declared as a
// variable of its own (see newEnv).
type qualifiedField struct {
	name string
	typ  *cel.Type
}

// qualifiedFields are the fields of the three views as qualified
// variables; celVars.ResolveName answers each of them.
func qualifiedFields() []qualifiedField {
	return []qualifiedField{
		{"request.action", cel.StringType},
		// dyn, as the field is typed (a ref.Val): a map type would refuse
		// conditions the field accepts (`request.params != null`) and
		// change static cost estimates.
		{"request.params", cel.DynType},
		{"request.purpose", cel.StringType},
		{"requester.type", cel.StringType},
		{"requester.id", cel.StringType},
		{"requester.name", cel.StringType},
		{"requester.roles", cel.ListType(cel.StringType)},
		{"requester.sponsor", cel.StringType},
		{"source.team", cel.StringType},
		{"source.channel", cel.StringType},
	}
}

// Upper bounds on the sizes of what a condition sees, for static cost
// estimates. Submit admits less: at most 64 parameters, string parameters
// of 256 bytes, a purpose of 2000 bytes.
const (
	maxInputString = 4096
	maxInputList   = 256
)

// sizeEstimator bounds the sizes of the input variables' strings, lists and
// maps for cel's static cost estimate.
type sizeEstimator struct{}

func (sizeEstimator) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	if n.Path() == nil || n.Type() == nil {
		return nil
	}
	switch n.Type().Kind() {
	case types.StringKind, types.BytesKind:
		return &cost.SizeEstimate{Min: 0, Max: maxInputString}
	case types.ListKind, types.MapKind:
		return &cost.SizeEstimate{Min: 0, Max: maxInputList}
	}
	return nil
}

func (sizeEstimator) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

// compiled is one type-checked condition ready to run.
type compiled struct {
	prg cel.Program
	ast *cel.Ast
	// tracked is true when the program counts its cost (CostLimit): it
	// gets an execution frame of its own on every run.
	tracked bool
	// root, when not nil, is the program's planned root instruction,
	// which an untracked program runs directly in an evaluation's frame
	// (see eval).
	root interpreter.InterpretableV2
}

// celIssue is a compile problem at a line and column of the expression.
type celIssue struct {
	line, col int
	msg       string
}

// compile parses and type-checks src; it must be a bool expression.
// params numbers the parameters the policy's conditions read by name
// (plan.go); nil leaves parameter reads to CEL.
func compile(env *cel.Env, src string, params *paramSlots) (*compiled, []celIssue) {
	if len(src) > MaxConditionLen {
		return nil, []celIssue{{msg: fmt.Sprintf("condition is longer than %d bytes", MaxConditionLen)}}
	}
	a, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		var out []celIssue
		for _, e := range iss.Errors() {
			out = append(out, celIssue{line: e.Location.Line(), col: e.Location.Column() + 1, msg: e.Message})
		}
		return nil, out
	}
	if !a.OutputType().IsExactType(cel.BoolType) {
		return nil, []celIssue{{msg: fmt.Sprintf("condition must be a bool expression, not %s", a.OutputType())}}
	}
	// A condition whose worst-case cost, for inputs of the sizes Submit
	// admits, is within the limit runs without per-evaluation cost
	// tracking (which would triple the time of a simple comparison); any
	// other is tracked and stopped at the limit.
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	tracked := false
	if est, err := env.EstimateCost(a, sizeEstimator{}); err != nil || est.Max > CostLimit {
		opts = append(opts, cel.CostLimit(CostLimit))
		tracked = true
	}
	reads := &fieldReads{params: params, rootID: a.NativeRep().Expr().ID()}
	if !tracked {
		// Field reads by number and the root (plan.go); a tracked
		// program keeps CEL's reads, which count their cost.
		opts = append(opts, cel.CustomDecoratorV2(reads.decorate))
	}
	prg, err := env.Program(a, opts...)
	if err != nil {
		return nil, []celIssue{{msg: err.Error()}}
	}
	c := &compiled{prg: prg, ast: a, tracked: tracked}
	if !tracked && finalRoot(a.NativeRep().Expr()) {
		c.root = reads.root
	}
	return c, nil
}

// eval runs the condition on act. frame, when not nil, is an execution
// frame over act made once for a whole evaluation: an untracked program
// runs in it instead of taking a frame from CEL's pool, resolving act's
// functions and giving the frame back — per rule, that was a seventh of
// an evaluation of 200 rules. A program that tracks its cost always gets
// a fresh frame, so no count carries over from one rule to the next.
//
// In that frame a program whose root instruction is known (finalRoot)
// runs it directly rather than through Program.Eval, whose deferred
// recovery and evaluation details were a tenth of an evaluation of 200
// rules: the value is the same, an error value is returned as the same
// error, and a panic is recovered once per evaluation (Policy.evaluate).
func (c *compiled) eval(act interpreter.Activation, frame *interpreter.ExecutionFrame) (bool, error) {
	var in any = act
	if frame != nil && !c.tracked {
		if c.root != nil {
			return result(c.root.Exec(frame), nil)
		}
		in = frame
	}
	v, _, err := c.prg.Eval(in)
	return result(v, err)
}

// result is a condition's outcome from its value or error, as
// Program.Eval gives them.
func result(v ref.Val, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	switch t := v.(type) {
	case types.Bool:
		return bool(t), nil
	case *types.Err:
		return false, t
	}
	b, ok := v.Value().(bool)
	if !ok {
		return false, fmt.Errorf("condition returned %v, not a bool", v.Type())
	}
	return b, nil
}

// literals are the names a condition compares with, found statically so a
// rule naming an unknown action, role or window is refused at load.
type literals struct {
	actions []string
	roles   []string
	windows []string
}

// findLiterals walks the checked AST for `request.action == "x"`,
// `request.action in ["x", "y"]`, `"r" in requester.roles` and
// `"w" in window`.
func findLiterals(a *cel.Ast) literals {
	var out literals
	celast.PreOrderVisit(a.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() != celast.CallKind {
			return
		}
		call := e.AsCall()
		args := call.Args()
		if len(args) != 2 {
			return
		}
		switch call.FunctionName() {
		case operators.Equals, operators.NotEquals:
			for i := 0; i < 2; i++ {
				if isSelect(args[i], "request", "action") {
					out.actions = append(out.actions, stringLits(args[1-i])...)
				}
			}
		case operators.In:
			switch {
			case isSelect(args[1], "requester", "roles"):
				out.roles = append(out.roles, stringLits(args[0])...)
			case isIdent(args[1], "window"):
				out.windows = append(out.windows, stringLits(args[0])...)
			case isSelect(args[0], "request", "action"):
				out.actions = append(out.actions, stringLits(args[1])...)
			}
		}
	}))
	return out
}

func isIdent(e celast.Expr, name string) bool {
	return e.Kind() == celast.IdentKind && e.AsIdent() == name
}

// isSelect reports whether e reads field of operand. A checked condition
// holds `requester.name` as the qualified identifier "requester.name"
// (newEnv declares it); the parsed form is a selection of field name on
// requester. Both count.
func isSelect(e celast.Expr, operand, field string) bool {
	if isIdent(e, operand+"."+field) {
		return true
	}
	return e.Kind() == celast.SelectKind && e.AsSelect().FieldName() == field && isIdent(e.AsSelect().Operand(), operand)
}

// stringLits returns the string constants of e (a literal or a list of them).
func stringLits(e celast.Expr) []string {
	switch e.Kind() {
	case celast.LiteralKind:
		if s, ok := e.AsLiteral().Value().(string); ok {
			return []string{s}
		}
	case celast.ListKind:
		var out []string
		for _, el := range e.AsList().Elements() {
			out = append(out, stringLits(el)...)
		}
		return out
	}
	return nil
}
