package policy

import (
	"errors"
	"fmt"

	"github.com/countersign/countersign/models"
)

// ErrMayNotRequest means the requester's roles may not ask for the action
// (the action's requesters list).
var ErrMayNotRequest = errors.New("the requester's roles may not ask for this action")

// CheckRequest applies the catalogue to a request before any rule runs:
// an action must be in the catalogue with valid parameters, a purpose when
// it needs one, and a requester whose roles may ask for it; a window
// request must name a declared window and a duration it allows. It returns
// the parameters normalised to the catalogue's types. Problems with the
// input are *models.ValidationError; a requester who may not ask gets
// ErrMayNotRequest.
func (p *Policy) CheckRequest(kind models.Kind, action string, params map[string]any, purpose string, roles []string) (map[string]any, error) {
	switch kind {
	case models.KindWindow:
		if action != ActionWindowOpen {
			return nil, models.Invalid("action", "window requests ask for "+ActionWindowOpen)
		}
		out, _, err := p.CheckWindowParams(params)
		return out, err
	case models.KindAction:
		act, ok := p.Action(action)
		if !ok {
			return nil, models.Invalid("action", fmt.Sprintf("%q is not in the action catalogue", action))
		}
		out, err := act.CheckParams(params)
		if err != nil {
			return nil, err
		}
		if act.PurposeRequired && purpose == "" {
			return nil, models.Invalid("purpose", act.Name+" needs a purpose")
		}
		if !act.MayRequest(roles) {
			return nil, fmt.Errorf("%s: %w", act.Name, ErrMayNotRequest)
		}
		return out, nil
	}
	return nil, models.Invalid("kind", "must be action or window")
}
