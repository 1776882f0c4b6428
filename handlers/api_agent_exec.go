package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/agents"
	"github.com/countersign/countersign/models/execution"
	"github.com/countersign/countersign/models/grant"
)

// executionSummary is what the agent API says about a request's
// execution once it is on record.
type executionSummary struct {
	State        execution.State `json:"state"`
	Mode         execution.Mode  `json:"mode"`
	ReportedBy   string          `json:"reported_by,omitempty"`
	OutputDigest string          `json:"output_digest,omitempty"`
	Error        string          `json:"error,omitempty"`
	FinishedAt   string          `json:"finished_at,omitempty"`
}

func summarizeExecution(e *execution.Execution) *executionSummary {
	s := &executionSummary{State: e.State, Mode: e.Mode, ReportedBy: e.ReportedBy, OutputDigest: e.OutputDigest, Error: e.Error}
	if e.FinishedAt != nil {
		s.FinishedAt = e.FinishedAt.UTC().Format(time.RFC3339)
	}
	return s
}

// sha256Hex is a hex SHA-256 digest.
var sha256Hex = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

// readAPIBody reads a bounded body; on failure it has answered already.
func (h *AgentAPI) readAPIBody(c echo.Context) ([]byte, bool, error) {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, h.opts.BodyLimit))
	if err != nil {
		if tooLarge(err) {
			return nil, false, apiFail(c, http.StatusRequestEntityTooLarge, "", fmt.Sprintf("the body is larger than %d bytes", h.opts.BodyLimit))
		}
		return nil, false, apiFail(c, http.StatusBadRequest, "", "the body could not be read")
	}
	return raw, true, nil
}

// decodeStrict decodes exactly one JSON object with known fields only.
func decodeStrict(raw []byte, dst any) bool {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(dst) == nil && !dec.More()
}

// agentRedeemAnswer is the success body of the agent's redeem call.
type agentRedeemAnswer struct {
	redeemAnswer
	// ResultURL is where to report the result once the action ran.
	ResultURL string `json:"result_url,omitempty"`
}

// RedeemGrant serves POST /api/v1/requests/:id/grant/redeem: the agent
// spends the grant of its own approved request, once, right before it
// acts. Body: {"grant": "<token from GET>", "params": {…}} (the parameters
// it is about to act on) or {"grant": …, "params_sha256": "<hex>"}.
// Refusals answer 403 (409 for a grant already used) with a stable reason
// and are audited; so is a grant presented by another agent or for another
// request.
func (h *AgentAPI) RedeemGrant(c echo.Context) error {
	a, id, raw, ok, err := h.requestCall(c, h.opts.Redeemer != nil, "grants")
	if !ok {
		return err
	}
	var f redeemForm
	if !decodeStrict(raw, &f) {
		return apiFail(c, http.StatusBadRequest, "body", `the body must be one JSON object: {"grant": …, "params": {…}} or {"grant": …, "params_sha256": …}`)
	}
	hash, err := redeemHash(&f)
	if err != nil {
		return apiInvalid(c, err)
	}
	ctx := c.Request().Context()
	red, err := h.opts.Redeemer.RedeemRequest(ctx, id, f.Grant, hash, a.Actor())
	var re *grant.RefusedError
	switch {
	case errors.As(err, &re):
		status := http.StatusForbidden
		if re.Reason == grant.ReasonReplayed {
			status = http.StatusConflict
		}
		return c.JSON(status, apiError{Error: re.Detail, Reason: string(re.Reason)})
	case errors.Is(err, models.ErrInvalid):
		return apiInvalid(c, err)
	case err != nil:
		h.opts.Logger.Error("agent api: redeem", "request_id", id, "agent", a.Name, "error", err.Error())
		return apiFail(c, http.StatusInternalServerError, "", "internal error; the grant was not spent")
	}
	ans := agentRedeemAnswer{redeemAnswer: redeemAnswer{
		Status: "redeemed", RequestID: red.RequestID, Action: red.Action, Params: json.RawMessage(red.Params),
		JTI: red.JTI, ExpiresAt: red.ExpiresAt.UTC().Format(time.RFC3339),
	}}
	if h.opts.Results != nil {
		ans.ResultURL = h.baseURL + "/api/v1/requests/" + red.RequestID + "/result"
	}
	return c.JSON(http.StatusOK, ans)
}

// redeemHash checks the redeem body and returns the parameters' hash.
func redeemHash(f *redeemForm) (string, error) {
	if f.Grant == "" {
		return "", models.Invalid("grant", "is required: the grant from GET /api/v1/requests/{id}")
	}
	hasParams := len(bytes.TrimSpace(f.Params)) > 0 && string(bytes.TrimSpace(f.Params)) != "null"
	switch {
	case hasParams && f.ParamsSHA256 != "":
		return "", models.Invalid("params_sha256", "give either params or params_sha256, not both")
	case hasParams:
		return grant.ParamsHashOf(f.Params)
	case f.ParamsSHA256 == "":
		return "", models.Invalid("params", "give the parameters you are about to act on (or params_sha256)")
	case !sha256Hex.MatchString(f.ParamsSHA256):
		return "", models.Invalid("params_sha256", "must be 64 hexadecimal digits")
	}
	return f.ParamsSHA256, nil
}

// requestCall does what every agent call on one of its requests starts
// with: authenticate the agent (401), check the feature is on (404 naming
// it), take the request id from the path and read the body. ok is false
// when the answer has been written; err is then what to return.
func (h *AgentAPI) requestCall(c echo.Context, enabled bool, feature string) (a *agents.Agent, id string, raw []byte, ok bool, err error) {
	a, ok, err = h.agent(c)
	if !ok {
		return nil, "", nil, false, err
	}
	if !enabled {
		return nil, "", nil, false, apiFail(c, http.StatusNotFound, "", feature+" are not enabled on this portal")
	}
	id = models.NormalizeRequestID(c.Param("id"))
	if id == "" || len(id) > 64 {
		return nil, "", nil, false, apiFail(c, http.StatusNotFound, "id", "no such request")
	}
	raw, ok, err = h.readAPIBody(c)
	if !ok {
		return nil, "", nil, false, err
	}
	return a, id, raw, true, nil
}
