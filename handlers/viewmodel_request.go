package handlers

import (
	"fmt"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/templates/pages"
	"github.com/countersign/countersign/templates/partials"
	"github.com/countersign/countersign/web/session"
)

// requesterView labels who asked.
func requesterView(r *models.Request) partials.Requester {
	return partials.Requester{
		IsAgent: r.RequesterType == models.ActorAgent,
		Name:    firstNonEmpty(r.RequesterName, r.RequesterID),
		ID:      r.RequesterID, SponsorName: r.SponsorName, SponsorID: r.SponsorID,
	}
}

// requestRows builds the rows of a request list. Progress, the state
// line and the risk flags need each request's decisions and post
// provenance (approval.Service.LoadTriage); without them a row shows no
// approvals and no flags.
func (h *Requests) requestRows(rs []models.Request, now time.Time) []partials.RequestRow {
	out := make([]partials.RequestRow, len(rs))
	for i := range rs {
		r := &rs[i]
		description, _ := h.actionDescription(r)
		row := partials.RequestRow{
			ID: r.ID, URL: requestPath(r.ID), Action: r.Action, Params: paramsSummary(r.Params),
			Purpose: r.Purpose, Requester: requesterView(r), Channel: r.ChannelName,
			State: string(r.State), Created: timeView(r.CreatedAt, now),
			Title: requestTitle(r, description), Line: stateLine(r, nil, now),
			Progress: progressView(r, r.Tally()), Risks: riskViews(r),
		}
		if r.State == models.StatePending {
			row.Expired = !now.Before(r.ExpiresAt)
			row.Expires = timeView(r.ExpiresAt, now)
		}
		out[i] = row
	}
	return out
}

// decisionRows builds the recent decisions list.
func decisionRows(rows []approval.DecisionRow, now time.Time) []partials.DecisionRow {
	out := make([]partials.DecisionRow, len(rows))
	for i, d := range rows {
		out[i] = partials.DecisionRow{
			RequestID: d.RequestID, RequestURL: requestPath(d.RequestID), Action: d.Action, Purpose: d.Purpose,
			RequestState: string(d.State), Approver: firstNonEmpty(d.ApproverName, d.ApproverID),
			Verdict: string(d.Verdict), Comment: d.Comment, At: timeView(d.CreatedAt, now),
		}
	}
	return out
}

// stateCounts builds the per-state summary badges, in lifecycle order,
// leaving out states with no requests.
func (h *Requests) stateCounts(c echo.Context) ([]partials.StateCount, error) {
	counts, err := h.svc.Counts(c.Request().Context())
	if err != nil {
		return nil, fmt.Errorf("request counts: %w", err)
	}
	var out []partials.StateCount
	for _, s := range models.AllStates {
		if n := counts[s]; n > 0 {
			out = append(out, partials.StateCount{State: string(s), Count: n, URL: listQuery{State: string(s)}.url("/requests", "")})
		}
	}
	return out, nil
}

// requestView builds the request page (all but the decision forms and
// the summary). verified says whether the stored content still hashes to
// r.ContentHash; g is its grant (nil when none).
func (h *Requests) requestView(r *models.Request, verified bool, g *grant.Grant, now time.Time) pages.RequestView {
	t := r.Tally()
	v := pages.RequestView{
		ID: r.ID, Kind: string(r.Kind), Action: r.Action, Purpose: r.Purpose,
		Requester: requesterView(r), State: string(r.State),
		Line: stateLine(r, g, now), Progress: progressView(r, t), Risks: riskViews(r),
		AutoApproved: r.ApprovedByPolicy(),
		Created:      timeView(r.CreatedAt, now),
		PolicyRef:    r.PolicyRef, PolicyExplanation: r.PolicyExplanation, Required: r.RequiredApprovals,
		Source: pages.RequestSource{
			TeamName: r.TeamName, ChannelName: r.ChannelName, ChannelURL: h.channelURL(r.TeamName, r.ChannelName),
			RootPostID: r.RootPostID, RootURL: h.permalink(r.TeamName, r.RootPostID),
			TriggerPostID: r.TriggerPostID, TriggerURL: h.permalink(r.TeamName, r.TriggerPostID),
		},
		ShareURL:        h.shareURL(r.ID),
		ContentHash:     r.ContentHash,
		ContentVerified: verified,
	}
	if rows, ok := paramRows(r.Params); ok {
		v.Params = rows
	} else {
		v.ParamsRaw = r.Params
	}
	v.Posts, v.ApprovalClaims = h.postViews(r, now)
	v.CaptureWarnings = r.CaptureWarnings
	v.ToolCalls = toolCallViews(r.ToolCalls, now)
	v.Decisions, v.ApprovedBy = decisionViews(r, now)
	v.Approvals = len(v.ApprovedBy)
	if r.State == models.StatePending && now.Before(r.ExpiresAt) {
		// A finished (or timed-out) request has no deadline left to show.
		v.Expires = timeView(r.ExpiresAt, now)
	}
	return v
}

// postViews builds the conversation and counts the posts that read like
// approvals.
func (h *Requests) postViews(r *models.Request, now time.Time) ([]partials.Post, int) {
	// Bot owners are stored as user ids; name them when the id is someone
	// the request already names (the agent's sponsor, a human in the thread).
	names := map[string]string{}
	if r.SponsorID != "" && r.SponsorName != "" {
		names[r.SponsorID] = r.SponsorName
	}
	for i := range r.Posts {
		if p := &r.Posts[i]; p.AuthorKind == models.AuthorHuman && p.AuthorName != "" {
			names[p.AuthorID] = p.AuthorName
		}
	}
	captured := r.CreatedAt.UnixMilli()
	out := make([]partials.Post, len(r.Posts))
	claims := 0
	for i := range r.Posts {
		p := &r.Posts[i]
		pv := partials.Post{
			Anchor: "post-" + strconv.Itoa(i+1), PostID: p.PostID,
			Author: firstNonEmpty(p.AuthorName, p.AuthorID), AuthorID: p.AuthorID, Kind: string(p.AuthorKind),
			Edited: p.EditAt > 0, EditedAfterCapture: p.EditAt > captured, EditedAt: timeView(msTime(p.EditAt), now),
			Deleted: p.DeleteAt > 0, NotMember: !p.ChannelMember,
			Reply: p.RootID != "", IsRoot: p.PostID == r.RootPostID, IsTrigger: p.PostID == r.TriggerPostID,
			Message: p.Message, ClaimsApproval: claimsApproval(p.Message),
			At: timeView(msTime(p.CreateAt), now), Permalink: h.permalink(r.TeamName, p.PostID),
		}
		if p.AuthorKind == models.AuthorBot && p.BotOwnerID != "" {
			pv.BotOwner = firstNonEmpty(names[p.BotOwnerID], p.BotOwnerName, p.BotOwnerID)
		}
		// Webhook posts and slash-command replies may show any name their
		// sender chose; it is kept only as "shown as", never as the author.
		if p.OverrideUsername != "" && p.OverrideUsername != p.AuthorName {
			pv.ShownAs = p.OverrideUsername
		}
		pv.Impersonates = p.Impersonates()
		pv.Command = p.AuthorKind == models.AuthorWebhook && !pv.Impersonates && r.MadeBy(p.AuthorID, p.AuthorName)
		if pv.ClaimsApproval {
			claims++
		}
		out[i] = pv
	}
	return out, claims
}

// toolCallViews builds the tool chain timeline, in stored order.
func toolCallViews(calls []models.ToolCall, now time.Time) []partials.ToolCall {
	anchors := make(map[string]string, len(calls))
	out := make([]partials.ToolCall, len(calls))
	for i := range calls {
		c := &calls[i]
		anchor := "tool-" + strconv.Itoa(i+1)
		anchors[c.CallID] = anchor
		out[i] = partials.ToolCall{
			Anchor: anchor, Index: i + 1, CallID: c.CallID, Tool: c.Tool, Status: string(c.Status),
			ParentCallID: c.ParentID, ParentAnchor: anchors[c.ParentID],
			Started: timeView(c.StartedAt, now), Duration: durationText(c.StartedAt, c.EndedAt),
			Input: jsonBlock(c.Input), Output: jsonBlock(c.Output), OutputDigest: c.OutputDigest,
			Observed: c.ObservedBy == models.ToolCallObserved,
		}
	}
	return out
}

// decisionViews builds the decision timeline and lists who approved the
// current content (each person once, in order).
func decisionViews(r *models.Request, now time.Time) ([]partials.Decision, []string) {
	out := make([]partials.Decision, len(r.Decisions))
	for i := range r.Decisions {
		d := &r.Decisions[i]
		out[i] = partials.Decision{
			Approver: firstNonEmpty(d.ApproverName, d.ApproverID), ApproverID: d.ApproverID,
			Verdict: string(d.Verdict), At: timeView(d.CreatedAt, now), Comment: d.Comment,
			AuthTime: timeView(d.AuthTime, now), ACR: d.ACR, AMR: d.AMR, IDTokenHash: d.IDTokenHash, PasswordOnly: d.PasswordOnly,
			ContentHash: d.ContentHash, Counts: r.Counts(d),
		}
		if d.PasskeyCredentialID != "" {
			out[i].Passkey = &partials.PasskeySignature{CredentialID: d.PasskeyCredentialID, Statement: d.PasskeyStatement}
		}
	}
	var approvedBy []string
	for _, d := range r.Tally().Approvals {
		approvedBy = append(approvedBy, firstNonEmpty(d.ApproverName, d.ApproverID))
	}
	return out, approvedBy
}

// decisionFormView fills the Approve and Deny forms for r.
func (h *Requests) decisionFormView(c echo.Context, r *models.Request) partials.DecisionForm {
	f := partials.DecisionForm{
		Path: decisionPath(r.ID), CSRFField: session.CSRFField, CSRFToken: session.CSRFToken(c),
		ContentHash: r.ContentHash, CommentMax: approval.MaxCommentLen,
	}
	rule := h.svc.StepUpFor(r)
	if u, ok := session.UserFrom(c); ok {
		f.StepUpNote = stepUpNote(rule, u.StepUp(), h.now())
		f.Passkey = h.passkeyOffer(c, u, r, rule)
	}
	return f
}

// passkeyOffer offers signing with a passkey to a person who has one,
// and says when the request's rule accepts nothing else.
func (h *Requests) passkeyOffer(c echo.Context, u *session.User, r *models.Request, rule approval.StepUpRule) partials.PasskeyOffer {
	o := partials.PasskeyOffer{Required: rule.Passkey, ChallengePath: requestPath(r.ID) + "/passkey/challenge"}
	if h.passkeys == nil {
		return o
	}
	if n, err := h.passkeys.Active(c.Request().Context(), u.Subject); err == nil && n > 0 {
		o.Offered = true
	}
	return o
}
