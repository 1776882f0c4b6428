package policy

import (
	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// fastFields wraps the environment's type provider so that reading a field
// of request, requester or source returns the CEL value an evaluation
// converted once (vars.go), instead of CEL's reflection converting the Go
// field again on every read: with 200 rules that conversion was two
// allocations per rule. It must come after ext.NativeTypes, whose provider
// it wraps.
func fastFields() cel.EnvOption {
	return func(env *cel.Env) (*cel.Env, error) {
		return cel.CustomTypeProvider(&fieldProvider{Provider: env.CELTypeProvider()})(env)
	}
}

// fieldProvider is the provider ext.NativeTypes built, with the field
// getters of the three CEL views replaced by ones that use an
// evaluation's converted values when they are there. Any other value of
// those types (the plain activation of the tests, a value built in CEL)
// goes to the reflection getter as before, so both give the same value.
type fieldProvider struct {
	types.Provider
}

// fastGetter returns a field's converted value from obj when obj is an
// evaluation's view (a pointer with fast set).
type fastGetter func(obj any) (ref.Val, bool)

// FindStructFieldType implements types.Provider. It runs when a condition
// is checked and planned, not when it is evaluated.
func (p *fieldProvider) FindStructFieldType(structType, fieldName string) (*types.FieldType, bool) {
	ft, ok := p.Provider.FindStructFieldType(structType, fieldName)
	if !ok || ft == nil || ft.GetFrom == nil {
		return ft, ok
	}
	fast := fastGetterOf(structType, fieldName)
	if fast == nil {
		return ft, ok
	}
	slow := ft.GetFrom
	out := *ft
	out.GetFrom = func(obj any) (any, error) {
		if v, ok := fast(obj); ok {
			return v, nil
		}
		return slow(obj)
	}
	return &out, true
}

// fastGetterOf returns the getter of one field of the CEL views, nil for
// any other.
func fastGetterOf(structType, field string) fastGetter {
	switch structType {
	case "policy.celRequest":
		return requestGetter(field)
	case "policy.celRequester":
		return requesterGetter(field)
	case "policy.celSource":
		return sourceGetter(field)
	}
	return nil
}

func requestGetter(field string) fastGetter {
	var get func(r *celRequest) ref.Val
	switch field {
	case "action":
		get = func(r *celRequest) ref.Val { return cached(&r.action, r.Action) }
	case "purpose":
		get = func(r *celRequest) ref.Val { return cached(&r.purpose, r.Purpose) }
	case "params":
		get = func(r *celRequest) ref.Val { return r.Params }
	default:
		return nil
	}
	return func(obj any) (ref.Val, bool) {
		r, ok := obj.(*celRequest)
		if !ok || !r.fast {
			return nil, false
		}
		return get(r), true
	}
}

func requesterGetter(field string) fastGetter {
	var get func(r *celRequester) ref.Val
	switch field {
	case "type":
		get = func(r *celRequester) ref.Val { return cached(&r.typ, r.Type) }
	case "id":
		get = func(r *celRequester) ref.Val { return cached(&r.id, r.ID) }
	case "name":
		get = func(r *celRequester) ref.Val { return cached(&r.name, r.Name) }
	case "sponsor":
		get = func(r *celRequester) ref.Val { return cached(&r.sponsorVal, r.Sponsor) }
	case "roles":
		get = func(r *celRequester) ref.Val {
			if r.roles == nil {
				r.roles = types.DefaultTypeAdapter.NativeToValue(r.Roles)
			}
			return r.roles
		}
	default:
		return nil
	}
	return func(obj any) (ref.Val, bool) {
		r, ok := obj.(*celRequester)
		if !ok || !r.fast {
			return nil, false
		}
		return get(r), true
	}
}

func sourceGetter(field string) fastGetter {
	var get func(s *celSource) ref.Val
	switch field {
	case "team":
		get = func(s *celSource) ref.Val { return cached(&s.team, s.Team) }
	case "channel":
		get = func(s *celSource) ref.Val { return cached(&s.channel, s.Channel) }
	default:
		return nil
	}
	return func(obj any) (ref.Val, bool) {
		s, ok := obj.(*celSource)
		if !ok || !s.fast {
			return nil, false
		}
		return get(s), true
	}
}

// cached converts s on its first read in an evaluation and keeps the value
// for the rules after.
func cached(slot *ref.Val, s string) ref.Val {
	if *slot == nil {
		*slot = types.String(s)
	}
	return *slot
}
