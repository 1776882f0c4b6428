package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
)

// Show serves GET /api/v1/requests/:id[?wait=30s&since_state=pending]. An
// agent sees only its own requests (others read as 404). With wait, the
// call returns as soon as the state differs from since_state (default: the
// state at the start), or when wait is over, with the current state. Once
// approved, the answer carries the execution grant when grants are on.
func (h *AgentAPI) Show(c echo.Context) error {
	a, ok, err := h.agent(c)
	if !ok {
		return err
	}
	ctx := c.Request().Context()
	id := models.NormalizeRequestID(c.Param("id"))
	wait := time.Duration(0)
	if s := c.QueryParam("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return apiFail(c, http.StatusUnprocessableEntity, "wait", "must be a duration such as 30s")
		}
		wait = min(d, h.opts.MaxWait)
	}
	since := models.State(c.QueryParam("since_state"))
	if since != "" && !since.Valid() {
		return apiFail(c, http.StatusUnprocessableEntity, "since_state", "is not a request state")
	}
	r, err := h.svc.Get(ctx, id)
	if err != nil {
		return h.failLoad(c, err)
	}
	if !r.RequestedBy(a.Actor()) {
		return apiFail(c, http.StatusNotFound, "id", "no such request")
	}
	if since == "" {
		since = r.State
	}
	if wait > 0 && r.State == since {
		changed, err := h.waitForChange(c, id, since, wait)
		if err != nil {
			return h.failLoad(c, err)
		}
		if changed {
			if r, err = h.svc.Get(ctx, id); err != nil {
				return h.failLoad(c, err)
			}
		}
	}
	v := h.view(r)
	if r.State == models.StateApproved && h.opts.Grants != nil {
		tok, err := h.opts.Grants.Token(ctx, r.ID)
		if err != nil {
			h.opts.Logger.Error("agent api: grant", "request_id", r.ID, "error", err.Error())
			return apiFail(c, http.StatusServiceUnavailable, "", "the request is approved but its grant is not available yet; try again")
		}
		v.Grant = tok
		if h.opts.Redeemer != nil {
			v.RedeemURL = h.baseURL + "/api/v1/requests/" + r.ID + "/grant/redeem"
		}
		if h.opts.Results != nil {
			v.ResultURL = h.baseURL + "/api/v1/requests/" + r.ID + "/result"
		}
	}
	h.addExecution(ctx, &v)
	return c.JSON(http.StatusOK, v)
}

// waitForChange polls the state until it differs from since, wait passes
// or the client goes away. Polling the shared store (not an in-process
// signal) sees changes made by any replica.
func (h *AgentAPI) waitForChange(c echo.Context, id string, since models.State, wait time.Duration) (bool, error) {
	ctx := c.Request().Context()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(h.opts.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, nil
		case <-deadline.C:
			return false, nil
		case <-tick.C:
			st, err := h.states.State(ctx, id)
			if err != nil {
				return false, fmt.Errorf("agent api: poll %s: %w", id, err)
			}
			if st != since {
				return true, nil
			}
		}
	}
}

// addExecution adds the recorded run to v, when there is one. A failure
// to read it leaves it out (the state already says how it ended).
func (h *AgentAPI) addExecution(ctx context.Context, v *requestView) {
	if h.opts.Results == nil || (v.State != models.StateExecuted && v.State != models.StateFailed && v.State != models.StateApproved) {
		return
	}
	e, err := h.opts.Results.Get(ctx, v.ID)
	if err != nil {
		if !errors.Is(err, models.ErrNotFound) {
			h.opts.Logger.Error("agent api: load execution", "request_id", v.ID, "error", err.Error())
		}
		return
	}
	v.Execution = summarizeExecution(e)
}
