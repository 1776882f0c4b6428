package handlers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/agents"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/contenthash"
	"github.com/countersign/countersign/web/mattermost"
)

// proposalForm is the JSON body of POST /api/v1/requests. It is bound
// here, never into a stored model.
type proposalForm struct {
	Action         string         `json:"action"`
	Params         map[string]any `json:"params"`
	Purpose        string         `json:"purpose"`
	ProposalPostID string         `json:"proposal_post_id"`
	ToolCalls      []toolCallForm `json:"tool_calls"`
}

// toolCallForm is one step of the agent's tool-invocation chain.
type toolCallForm struct {
	CallID       string          `json:"call_id"`
	ParentID     string          `json:"parent_id"`
	Tool         string          `json:"tool"`
	Input        json.RawMessage `json:"input"`
	Output       json.RawMessage `json:"output"`
	OutputDigest string          `json:"output_digest"`
	Status       string          `json:"status"`
	StartedAt    time.Time       `json:"started_at"`
	EndedAt      *time.Time      `json:"ended_at"`
}

var idempotencyKey = regexp.MustCompile(`^[\x21-\x7e]{1,200}$`)

// Create serves POST /api/v1/requests: an agent proposes an action it
// announced in a Mattermost post of its own. The post must exist and be
// written by the agent's bot account; its thread is captured; the policy
// decides. With an Idempotency-Key, a replay of the same body returns the
// first request (200) and a different body is a conflict (409).
func (h *AgentAPI) Create(c echo.Context) error {
	a, ok, err := h.agent(c)
	if !ok {
		return err
	}
	req := c.Request()
	ctx := req.Context()
	raw, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, h.opts.BodyLimit))
	if err != nil {
		if tooLarge(err) {
			return apiFail(c, http.StatusRequestEntityTooLarge, "", fmt.Sprintf("the body is larger than %d bytes", h.opts.BodyLimit))
		}
		return apiFail(c, http.StatusBadRequest, "", "the body could not be read")
	}
	if msg := bodyProblem(raw); msg != "" {
		return apiFail(c, http.StatusBadRequest, "body", msg)
	}
	var f proposalForm
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil || dec.More() {
		return apiFail(c, http.StatusBadRequest, "body", "the body must be one JSON object with the documented fields")
	}
	key := req.Header.Get("Idempotency-Key")
	if key != "" && !idempotencyKey.MatchString(key) {
		return apiFail(c, http.StatusUnprocessableEntity, "Idempotency-Key", "must be 1–200 visible ASCII characters")
	}
	canon, err := contenthash.CanonicalizeJSON(raw)
	if err != nil {
		return apiFail(c, http.StatusBadRequest, "body", "the body is not canonicalizable JSON")
	}
	sum := sha256.Sum256(canon)
	bodyHash := hex.EncodeToString(sum[:])
	if key != "" {
		if done, err := h.replay(c, a, key, bodyHash); done || err != nil {
			return err
		}
	}

	in, err := h.proposal(a, &f)
	if err != nil {
		return apiInvalid(c, err)
	}
	capt, status, err := h.captureProposal(ctx, a, f.ProposalPostID)
	if err != nil {
		h.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "agent api: proposal refused", slog.String("agent", a.Name), slog.String("error", err.Error()))
		return apiFail(c, status, "proposal_post_id", proposalProblem(status, err))
	}
	in.Source, in.Posts, in.CaptureWarnings = capt.Source, capt.Posts, capt.Warnings
	// The sponsor is configured by username; chat messages (the outcome
	// DM, the cancel button) need the account's id.
	if in.Requester.SponsorID, err = h.sponsorID(ctx, a); err != nil {
		h.opts.Logger.LogAttrs(ctx, slog.LevelError, "agent api: sponsor not resolved", slog.String("agent", a.Name), slog.String("sponsor", a.Sponsor), slog.String("error", err.Error()))
		if errors.Is(err, models.ErrNotFound) || errors.Is(err, models.ErrInvalid) {
			return apiFail(c, http.StatusInternalServerError, "", fmt.Sprintf("this agent's sponsor @%s is not a Mattermost user; ask an administrator to fix the agent's registration", a.Sponsor))
		}
		return apiFail(c, chatTroubleStatus(err), "", chatTrouble(err)+"; nothing was stored")
	}

	sub, err := h.svc.Submit(agents.WithIdempotency(ctx, a.Name, key, bodyHash), in, a.Roles)
	if err != nil {
		if agents.IsKeyReused(err) {
			// Another call with this key won the race: answer as a replay.
			if done, err := h.replay(c, a, key, bodyHash); done || err != nil {
				return err
			}
		}
		var ve *models.ValidationError
		if errors.As(err, &ve) {
			return apiInvalid(c, err)
		}
		h.opts.Logger.LogAttrs(ctx, slog.LevelError, "agent api: submit failed", slog.String("agent", a.Name), slog.String("error", err.Error()))
		return apiFail(c, http.StatusInternalServerError, "", "the request could not be stored; nothing was stored")
	}
	v := h.view(sub.Request)
	v.Outcome = outcomeWords(sub)
	c.Response().Header().Set("Location", v.URL)
	return c.JSON(http.StatusCreated, v)
}

// replay answers a call whose Idempotency-Key was used before: the same
// request for the same body, 409 for another body. done is false when the
// key is new.
func (h *AgentAPI) replay(c echo.Context, a *agents.Agent, key, bodyHash string) (done bool, err error) {
	ctx := c.Request().Context()
	rec, err := h.idem.FindIdempotent(ctx, a.Name, key)
	if errors.Is(err, models.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		h.opts.Logger.Error("agent api: idempotency lookup", "error", err.Error())
		return true, apiFail(c, http.StatusInternalServerError, "", "internal error")
	}
	if rec.BodyHash != bodyHash {
		return true, apiFail(c, http.StatusConflict, "Idempotency-Key", "this key was used with a different body")
	}
	r, err := h.svc.Get(ctx, rec.RequestID)
	if err != nil {
		return true, h.failLoad(c, err)
	}
	return true, c.JSON(http.StatusOK, h.view(r))
}

// proposal checks the body against the catalogue and builds the request
// (without its conversation).
func (h *AgentAPI) proposal(a *agents.Agent, f *proposalForm) (approval.NewRequest, error) {
	in := approval.NewRequest{Kind: models.KindAction, Action: f.Action, Params: f.Params, Purpose: f.Purpose, Requester: a.Actor()}
	// The catalogue's rules, as for every request. An action the agent
	// may not request is as unknown to it as one that does not exist.
	err := h.svc.CheckRequest(&in, a.Roles)
	var ve *models.ValidationError
	switch {
	case errors.Is(err, approval.ErrNoPolicy):
		return in, models.Invalid("action", "no policy is loaded, so nothing can be requested yet")
	case errors.Is(err, approval.ErrNotRequester), errors.As(err, &ve) && ve.Field == "action":
		return in, models.Invalid("action", fmt.Sprintf("%q is not an action this agent may request", f.Action))
	case err != nil:
		return in, err
	}
	if !mattermostID.MatchString(f.ProposalPostID) {
		return in, models.Invalid("proposal_post_id", "must be the 26-character id of the agent's proposal post")
	}
	calls := make([]models.ToolCall, len(f.ToolCalls))
	for i, tc := range f.ToolCalls {
		field := fmt.Sprintf("tool_calls[%d]", i)
		if tc.OutputDigest != "" && !models.ValidOutputDigest(tc.OutputDigest) {
			return in, models.Invalid(field+".output_digest", "must look like sha256:<hex>")
		}
		if tc.StartedAt.IsZero() {
			return in, models.Invalid(field+".started_at", "is required (RFC 3339)")
		}
		call := models.ToolCall{
			CallID: tc.CallID, ParentID: tc.ParentID, Tool: tc.Tool, Input: string(tc.Input),
			OutputDigest: tc.OutputDigest, Status: models.ToolCallStatus(tc.Status), StartedAt: tc.StartedAt,
		}
		if len(tc.Output) > 0 && string(tc.Output) != "null" {
			call.Output = string(tc.Output)
		}
		if tc.EndedAt != nil {
			call.EndedAt = *tc.EndedAt
		}
		calls[i] = call
	}
	in.ToolCalls = calls
	return in, nil
}

// captureProposal captures the thread of the proposal post and checks the
// post is the agent's own. On failure it returns the status to answer.
func (h *AgentAPI) captureProposal(ctx context.Context, a *agents.Agent, postID string) (*mattermost.Capture, int, error) {
	ctx, cancel := context.WithTimeout(ctx, h.opts.CaptureDeadline)
	defer cancel()
	bot, err := h.chat.BotUserID(ctx)
	if err != nil {
		return nil, chatTroubleStatus(err), err
	}
	capt, err := h.chat.Capture(ctx, mattermost.CaptureRequest{PostRef: postID, ExcludeUserIDs: []string{bot}})
	switch {
	case err == nil:
	case errors.Is(err, models.ErrNotFound):
		return nil, http.StatusUnprocessableEntity, err
	case errors.Is(err, models.ErrForbidden):
		return nil, http.StatusForbidden, err
	default:
		return nil, chatTroubleStatus(err), err
	}
	if err := agents.CheckProposal(a, capt.Trigger); err != nil {
		return nil, http.StatusForbidden, err
	}
	return capt, 0, nil
}

// sponsorID finds the Mattermost account id of the agent's sponsor.
func (h *AgentAPI) sponsorID(ctx context.Context, a *agents.Agent) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, h.opts.CaptureDeadline)
	defer cancel()
	return h.chat.UserIDByUsername(ctx, a.Sponsor)
}

// proposalProblem words a refused proposal post.
func proposalProblem(status int, err error) string {
	switch status {
	case http.StatusUnprocessableEntity:
		return "the proposal post does not exist or Countersign's bot cannot read it"
	case http.StatusForbidden:
		return "the proposal post must be written by this agent's own bot account (not another account, not a webhook)"
	case http.StatusServiceUnavailable:
		return chatTrouble(err) + "; nothing was stored, try again"
	}
	return chatTrouble(err) + "; nothing was stored"
}
