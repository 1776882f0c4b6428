package policy

import (
	"fmt"
	"time"

	"github.com/countersign/countersign/models"
)

// DefaultWindowMaxDuration bounds a window that declares no max_duration.
const DefaultWindowMaxDuration = 4 * time.Hour

// Window is a change window the policy lets people open.
type Window struct {
	Name        string
	Description string
	// MaxDuration is the longest a window may be opened for at once.
	MaxDuration time.Duration
}

// Window returns the declared window named name.
func (p *Policy) Window(name string) (Window, bool) {
	w, ok := p.windows[name]
	return w, ok
}

// Windows returns the declared windows in file order.
func (p *Policy) Windows() []Window {
	out := make([]Window, len(p.windowOrder))
	for i, n := range p.windowOrder {
		out[i] = p.windows[n]
	}
	return out
}

// CheckWindowParams validates the parameters of a window.open request,
// {"window": NAME, "duration": "2h"}: the window must be declared and the
// duration positive and at most its max_duration. It returns the
// parameters normalised and the duration. Problems are
// *models.ValidationError.
func (p *Policy) CheckWindowParams(params map[string]any) (map[string]any, time.Duration, error) {
	for k := range params {
		if k != "window" && k != "duration" {
			return nil, 0, models.Invalid("params."+k, "is not a parameter of window.open (known: window, duration)")
		}
	}
	name, _ := params["window"].(string)
	if name == "" {
		return nil, 0, models.Invalid("params.window", "names the window to open")
	}
	w, ok := p.windows[name]
	if !ok {
		return nil, 0, models.Invalid("params.window", fmt.Sprintf("%q is not a change window of the policy%s", name, p.windowList()))
	}
	raw, _ := params["duration"].(string)
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		return nil, 0, models.Invalid("params.duration", "must be a positive duration such as 30m or 2h")
	}
	if d < time.Minute || d > w.MaxDuration {
		return nil, 0, models.Invalid("params.duration", fmt.Sprintf("must be between 1m and %s for window %s", w.MaxDuration, name))
	}
	return map[string]any{"window": name, "duration": raw}, d, nil
}

func (p *Policy) windowList() string {
	if len(p.windowOrder) == 0 {
		return " (it declares none)"
	}
	s := " (known: "
	for i, n := range p.windowOrder {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s + ")"
}
