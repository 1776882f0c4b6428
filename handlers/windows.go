package handlers

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models/policy"
	"github.com/countersign/countersign/models/window"
	"github.com/countersign/countersign/templates/pages"
)

// PolicyState tells the page which policy is in force; nil Policy means
// none is configured.
type PolicyState struct {
	// Status is the watcher's status (zero when no file is configured).
	Status func() policy.Status
	// Policy is the policy in force (for its declared windows).
	Policy func() *policy.Policy
}

// Windows shows the open change windows and the policy in force to every
// signed-in person: what is currently allowed is no secret to the people
// asking and approving.
type Windows struct {
	windows *window.Service
	state   PolicyState
	now     func() time.Time
}

// NewWindows returns the change-windows page; now may be nil.
func NewWindows(w *window.Service, state PolicyState, now func() time.Time) *Windows {
	if now == nil {
		now = time.Now
	}
	return &Windows{windows: w, state: state, now: now}
}

// Show serves GET /windows.
func (h *Windows) Show(c echo.Context) error {
	if _, err := signedIn(c); err != nil {
		return err
	}
	ws, err := h.windows.Open(c.Request().Context())
	if err != nil {
		return fmt.Errorf("windows page: %w", err)
	}
	now := h.now()
	v := pages.WindowsView{}
	for _, w := range ws {
		opener := w.OpenedByName
		if opener == "" {
			opener = w.OpenedBy
		}
		v.Open = append(v.Open, pages.WindowRow{
			Name: w.Name, OpenedBy: opener, Purpose: w.Purpose,
			OpenedAt: timeView(w.OpenedAt, now), ClosesAt: timeView(w.ClosesAt, now),
			RequestID: w.RequestID, RequestURL: requestPath(w.RequestID),
		})
	}
	if h.state.Policy != nil {
		if p := h.state.Policy(); p != nil {
			for _, w := range p.Windows() {
				v.Declared = append(v.Declared, w.Name)
			}
		}
	}
	if h.state.Status != nil {
		st := h.state.Status()
		v.Policy = pages.PolicyStatusView{Configured: st.Path != "", Ref: st.Ref, Problem: st.Problem}
		if !st.LoadedAt.IsZero() {
			v.Policy.LoadedAt = timeView(st.LoadedAt, now)
		}
		if !st.ProblemAt.IsZero() {
			v.Policy.ProblemAt = timeView(st.ProblemAt, now)
		}
	}
	return Render(c, http.StatusOK, pages.Windows(v))
}
