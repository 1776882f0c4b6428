package policy

import (
	"sync"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// celVars is the activation of one evaluation, shared by every rule the
// request meets. Each variable and field is converted to a CEL value on
// its first read and kept (see fields.go), so 200 rules reading
// requester.name convert it once, not 200 times. A celVars is reused
// between evaluations through varsPool; it is used by one goroutine at a
// time.
type celVars struct {
	request   celRequest
	requester celRequester
	source    celSource
	at        time.Time
	windows   []string
	// time and window are converted on first read.
	time, window ref.Val
	// params backs request.params; its map is kept between evaluations
	// and refilled, so an evaluation allocates only the converted values.
	params map[string]ref.Val
	// paramVals holds the same values of the parameters the policy's
	// conditions read by name, by their number (paramSlots); nil where
	// the request has no such parameter.
	paramVals []ref.Val
	// slots is the policy's numbering of paramVals.
	slots *paramSlots
}

// varsPool hands out celVars; it lives in the Policy (no package state)
// and its zero value is ready.
type varsPool struct {
	p sync.Pool
	// params numbers the parameters the policy's conditions read by
	// name (plan.go); the rules are compiled with it.
	params paramSlots
}

// get returns the activation for in. Call put when the evaluation is over.
func (vp *varsPool) get(in *Input) *celVars {
	v, _ := vp.p.Get().(*celVars)
	if v == nil {
		v = &celVars{params: map[string]ref.Val{}}
	}
	if n := vp.params.len(); len(v.paramVals) != n {
		v.paramVals = make([]ref.Val, n)
	}
	v.slots = &vp.params
	roles := in.Requester.Roles
	if roles == nil {
		roles = []string{}
	}
	v.windows = in.OpenWindows
	if v.windows == nil {
		v.windows = []string{}
	}
	v.at = in.Time
	if v.at.IsZero() {
		v.at = time.Now()
	}
	v.at = v.at.UTC()
	v.request = celRequest{Action: in.Action, Purpose: in.Purpose, fast: true}
	v.request.Params = types.NewMap(types.DefaultTypeAdapter, v.paramValues(in.Params))
	v.requester = celRequester{Type: in.Requester.Type, ID: in.Requester.ID, Name: in.Requester.Name, Roles: roles, Sponsor: in.Requester.Sponsor, fast: true}
	v.source = celSource{Team: in.Source.Team, Channel: in.Source.Channel, fast: true}
	return v
}

// paramValues converts the request's parameters once for the evaluation,
// with the adapter CEL used on every read before (the values are the
// same; only when they are made changes).
func (v *celVars) paramValues(raw map[string]any) map[string]ref.Val {
	clear(v.params)
	for k, p := range raw {
		val := types.DefaultTypeAdapter.NativeToValue(p)
		v.params[k] = val
		if i, ok := v.slots.index[k]; ok {
			v.paramVals[i] = val
		}
	}
	return v.params
}

// put drops the references to the request (so a pooled value keeps no
// caller data alive) and returns v to the pool.
func (vp *varsPool) put(v *celVars) {
	clear(v.params)
	clear(v.paramVals)
	params, paramVals := v.params, v.paramVals
	*v = celVars{params: params, paramVals: paramVals}
	vp.p.Put(v)
}

// ResolveName implements interpreter.Activation.
func (v *celVars) ResolveName(name string) (any, bool) {
	switch name {
	case "request":
		return &v.request, true
	case "requester":
		return &v.requester, true
	case "source":
		return &v.source, true
	case "time":
		if v.time == nil {
			v.time = types.Timestamp{Time: v.at}
		}
		return v.time, true
	case "window":
		if v.window == nil {
			v.window = types.DefaultTypeAdapter.NativeToValue(v.windows)
		}
		return v.window, true
	}
	// The fields declared as qualified variables (qualifiedFields).
	if f := fieldNamed(name); f != fieldNone {
		return v.field(f), true
	}
	return nil, false
}

// fieldIndex numbers the fields declared as qualified variables
// (qualifiedFields), so a planned read (plan.go) asks for one without
// naming it.
type fieldIndex int

// The qualified fields.
const (
	fieldNone fieldIndex = iota
	fieldRequestAction
	fieldRequestParams
	fieldRequestPurpose
	fieldRequesterType
	fieldRequesterID
	fieldRequesterName
	fieldRequesterRoles
	fieldRequesterSponsor
	fieldSourceTeam
	fieldSourceChannel
)

// fieldNamed returns the number of the qualified field name, fieldNone
// when name is not one.
func fieldNamed(name string) fieldIndex {
	switch name {
	case "request.action":
		return fieldRequestAction
	case "request.params":
		return fieldRequestParams
	case "request.purpose":
		return fieldRequestPurpose
	case "requester.type":
		return fieldRequesterType
	case "requester.id":
		return fieldRequesterID
	case "requester.name":
		return fieldRequesterName
	case "requester.roles":
		return fieldRequesterRoles
	case "requester.sponsor":
		return fieldRequesterSponsor
	case "source.team":
		return fieldSourceTeam
	case "source.channel":
		return fieldSourceChannel
	}
	return fieldNone
}

// field returns a qualified field's value, the one the field getters give
// (fields.go), converting it on its first read.
func (v *celVars) field(f fieldIndex) ref.Val {
	switch f {
	case fieldRequestAction:
		return cached(&v.request.action, v.request.Action)
	case fieldRequestParams:
		return v.request.Params
	case fieldRequestPurpose:
		return cached(&v.request.purpose, v.request.Purpose)
	case fieldRequesterType:
		return cached(&v.requester.typ, v.requester.Type)
	case fieldRequesterID:
		return cached(&v.requester.id, v.requester.ID)
	case fieldRequesterName:
		return cached(&v.requester.name, v.requester.Name)
	case fieldRequesterRoles:
		if v.requester.roles == nil {
			v.requester.roles = types.DefaultTypeAdapter.NativeToValue(v.requester.Roles)
		}
		return v.requester.roles
	case fieldRequesterSponsor:
		return cached(&v.requester.sponsorVal, v.requester.Sponsor)
	case fieldSourceTeam:
		return cached(&v.source.team, v.source.Team)
	case fieldSourceChannel:
		return cached(&v.source.channel, v.source.Channel)
	}
	return nil
}

// param returns the converted value of the parameter numbered i (see
// paramSlots), nil when the request has no such parameter.
func (v *celVars) param(i int) ref.Val {
	if i < 0 || i >= len(v.paramVals) {
		return nil
	}
	return v.paramVals[i]
}

// Parent implements interpreter.Activation: there is none.
func (v *celVars) Parent() interpreter.Activation { return nil }
