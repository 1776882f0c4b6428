package handlers

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/execution"
)

// resultForm is the JSON body of POST /api/v1/requests/:id/result.
type resultForm struct {
	// Status is "ok" or "error".
	Status string `json:"status"`
	// Output is any JSON value; OutputDigest ("sha256:<hex>") stands for
	// an output the agent keeps to itself. At most one of them.
	Output       json.RawMessage `json:"output"`
	OutputDigest string          `json:"output_digest"`
	// Error says what went wrong (status "error" only).
	Error string `json:"error"`
	// StartedAt and EndedAt are RFC 3339 times.
	StartedAt string `json:"started_at"`
	EndedAt   string `json:"ended_at"`
}

// result turns the form into the domain's Result, or a validation error
// naming the field.
func (f *resultForm) result() (execution.Result, error) {
	var res execution.Result
	switch f.Status {
	case "ok":
		res.Succeeded = true
		if f.Error != "" {
			return res, models.Invalid("error", `only with status "error"`)
		}
	case "error":
	default:
		return res, models.Invalid("status", `must be "ok" or "error"`)
	}
	var err error
	if res.StartedAt, err = reportedTime("started_at", f.StartedAt); err != nil {
		return res, err
	}
	if res.EndedAt, err = reportedTime("ended_at", f.EndedAt); err != nil {
		return res, err
	}
	res.Output, res.OutputDigest, res.Error = f.Output, f.OutputDigest, f.Error
	return res, nil
}

func reportedTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, models.Invalid(field, "is required (RFC 3339)")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, models.Invalid(field, "must be an RFC 3339 time such as 2026-11-27T10:00:00Z")
	}
	return t, nil
}

// ReportResult serves POST /api/v1/requests/:id/result: the requesting
// agent reports how the run of its approved request went, once, after it
// redeemed the grant. The request ends executed (status ok) or failed
// (status error); the answer is the request as GET shows it. Another
// agent's request reads as 404, like GET; a report before redeeming, a
// second report, one after the result timeout ended the request failed
// (reason result_timed_out) or one for a request no longer approved is a
// 409 with a reason. Refusals are audited.
func (h *AgentAPI) ReportResult(c echo.Context) error {
	a, id, raw, ok, err := h.requestCall(c, h.opts.Results != nil, "execution results")
	if !ok {
		return err
	}
	var f resultForm
	if !decodeStrict(raw, &f) {
		return apiFail(c, http.StatusBadRequest, "body", `the body must be one JSON object: {"status": "ok"|"error", "output": …|"output_digest": …, "error": …, "started_at": …, "ended_at": …}`)
	}
	res, err := f.result()
	if err != nil {
		return apiInvalid(c, err)
	}
	ctx := c.Request().Context()
	ex, err := h.opts.Results.RecordResult(ctx, id, res, a.Actor())
	if ex != nil && err != nil {
		// Recorded and audited; only ending the request failed, which
		// the execution worker's reconciliation finishes later.
		h.opts.Logger.Error("agent api: conclude after result", "request_id", id, "error", err.Error())
		err = nil
	}
	switch {
	case errors.Is(err, models.ErrInvalid):
		return apiInvalid(c, err)
	case errors.Is(err, models.ErrNotFound), errors.Is(err, models.ErrForbidden):
		return apiFail(c, http.StatusNotFound, "id", "no such request")
	case errors.Is(err, execution.ErrNotRedeemed):
		return c.JSON(http.StatusConflict, apiError{Error: "redeem the grant before acting; nothing may have run without it", Reason: string(execution.RefusedNotRedeemed)})
	case errors.Is(err, execution.ErrResultTimedOut):
		return c.JSON(http.StatusConflict, apiError{Error: "no result came within the result timeout after the grant was redeemed; the request failed and this result is not recorded", Reason: string(execution.RefusedTimedOut)})
	case errors.Is(err, execution.ErrAlreadyReported):
		return c.JSON(http.StatusConflict, apiError{Error: "the result of this request was already reported", Reason: string(execution.RefusedAlreadyReported)})
	case errors.Is(err, models.ErrConflict):
		return c.JSON(http.StatusConflict, apiError{Error: "the request is no longer approved", Reason: string(execution.RefusedNotApproved)})
	case err != nil:
		h.opts.Logger.Error("agent api: record result", "request_id", id, "agent", a.Name, "error", err.Error())
		return apiFail(c, http.StatusInternalServerError, "", "internal error")
	}
	r, err := h.svc.Get(ctx, id)
	if err != nil {
		return h.failLoad(c, err)
	}
	v := h.view(r)
	h.addExecution(ctx, &v)
	return c.JSON(http.StatusOK, v)
}
