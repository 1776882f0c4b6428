package policy

import (
	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
)

// A guard is a top-level conjunct of a condition that Go can decide
// without CEL, such as `request.params.env == "prod"` or `"sre" in
// requester.roles`. When a guard is certainly false for a request, the
// whole condition is false (CEL's && is false as soon as one side is
// false, errors on the other side notwithstanding), so the rule is skipped
// without running its program. A guard that cannot tell (a missing
// parameter, values of different types) lets CEL decide.
type guard func(in *Input) (certainlyFalse bool)

// guardsOf returns the guards of a checked condition.
func guardsOf(a *cel.Ast) []guard {
	var out []guard
	var walk func(e celast.Expr)
	walk = func(e celast.Expr) {
		if e.Kind() != celast.CallKind {
			return
		}
		call := e.AsCall()
		args := call.Args()
		switch {
		case call.FunctionName() == operators.LogicalAnd:
			for _, arg := range args {
				walk(arg)
			}
		case call.FunctionName() == operators.Equals && len(args) == 2:
			for i := 0; i < 2; i++ {
				if g := equalityGuard(args[i], args[1-i]); g != nil {
					out = append(out, g)
					return
				}
			}
		case call.FunctionName() == operators.In && len(args) == 2 && args[0].Kind() == celast.LiteralKind:
			lit, ok := args[0].AsLiteral().Value().(string)
			if !ok {
				return
			}
			switch {
			case isSelect(args[1], "requester", "roles"):
				out = append(out, func(in *Input) bool { return !contains(in.Requester.Roles, lit) })
			case isIdent(args[1], "window"):
				out = append(out, func(in *Input) bool { return !contains(in.OpenWindows, lit) })
			}
		}
	}
	walk(a.NativeRep().Expr())
	return out
}

// equalityGuard decides `field == literal` for the fields whose Go value
// is at hand.
func equalityGuard(field, litExpr celast.Expr) guard {
	if litExpr.Kind() != celast.LiteralKind {
		return nil
	}
	lit := litExpr.AsLiteral().Value()
	if s, ok := lit.(string); ok {
		var get func(in *Input) string
		switch {
		case isSelect(field, "request", "action"):
			get = func(in *Input) string { return in.Action }
		case isSelect(field, "request", "purpose"):
			get = func(in *Input) string { return in.Purpose }
		case isSelect(field, "requester", "type"):
			get = func(in *Input) string { return in.Requester.Type }
		case isSelect(field, "requester", "id"):
			get = func(in *Input) string { return in.Requester.ID }
		case isSelect(field, "requester", "name"):
			get = func(in *Input) string { return in.Requester.Name }
		case isSelect(field, "requester", "sponsor"):
			get = func(in *Input) string { return in.Requester.Sponsor }
		case isSelect(field, "source", "team"):
			get = func(in *Input) string { return in.Source.Team }
		case isSelect(field, "source", "channel"):
			get = func(in *Input) string { return in.Source.Channel }
		}
		if get != nil {
			return func(in *Input) bool { return get(in) != s }
		}
	}
	// request.params.NAME == literal: decided only when the parameter is
	// present with the literal's Go type.
	if field.Kind() != celast.SelectKind {
		return nil
	}
	sel := field.AsSelect()
	if sel.IsTestOnly() || !isSelect(sel.Operand(), "request", "params") {
		return nil
	}
	name := sel.FieldName()
	switch want := lit.(type) {
	case string:
		return func(in *Input) bool { v, ok := in.Params[name].(string); return ok && v != want }
	case int64:
		return func(in *Input) bool { v, ok := in.Params[name].(int64); return ok && v != want }
	case bool:
		return func(in *Input) bool { v, ok := in.Params[name].(bool); return ok && v != want }
	}
	return nil
}
