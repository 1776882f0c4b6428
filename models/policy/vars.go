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
}

// varsPool hands out celVars; it lives in the Policy (no package state)
// and its zero value is ready.
type varsPool struct{ p sync.Pool }

// get returns the activation for in. Call put when the evaluation is over.
func (vp *varsPool) get(in *Input) *celVars {
	v, _ := vp.p.Get().(*celVars)
	if v == nil {
		v = &celVars{params: map[string]ref.Val{}}
	}
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
		v.params[k] = types.DefaultTypeAdapter.NativeToValue(p)
	}
	return v.params
}

// put drops the references to the request (so a pooled value keeps no
// caller data alive) and returns v to the pool.
func (vp *varsPool) put(v *celVars) {
	clear(v.params)
	params := v.params
	*v = celVars{params: params}
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
	// The fields declared as qualified variables (qualifiedFields), with
	// the values the field getters give (fields.go).
	case "request.action":
		return cached(&v.request.action, v.request.Action), true
	case "request.params":
		return v.request.Params, true
	case "request.purpose":
		return cached(&v.request.purpose, v.request.Purpose), true
	case "requester.type":
		return cached(&v.requester.typ, v.requester.Type), true
	case "requester.id":
		return cached(&v.requester.id, v.requester.ID), true
	case "requester.name":
		return cached(&v.requester.name, v.requester.Name), true
	case "requester.roles":
		if v.requester.roles == nil {
			v.requester.roles = types.DefaultTypeAdapter.NativeToValue(v.requester.Roles)
		}
		return v.requester.roles, true
	case "requester.sponsor":
		return cached(&v.requester.sponsorVal, v.requester.Sponsor), true
	case "source.team":
		return cached(&v.source.team, v.source.Team), true
	case "source.channel":
		return cached(&v.source.channel, v.source.Channel), true
	}
	return nil, false
}

// Parent implements interpreter.Activation: there is none.
func (v *celVars) Parent() interpreter.Activation { return nil }
