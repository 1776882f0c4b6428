package handlers

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/execution"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/templates/pages"
)

// GrantReader loads a request's grant record (*grant.Service; the tests'
// fakes). It never hands out the token.
type GrantReader interface {
	Get(ctx context.Context, requestID string) (*grant.Grant, error)
}

// loadGrant returns r's grant; nil when it has none or grants are off.
func (h *Requests) loadGrant(ctx context.Context, r *models.Request) (*grant.Grant, error) {
	if h.grants == nil {
		return nil, nil
	}
	g, err := h.grants.Get(ctx, r.ID)
	if errors.Is(err, models.ErrNotFound) {
		return nil, nil
	}
	return g, err
}

// grantView builds the grant panel; nil when the request has no grant.
func grantView(r *models.Request, g *grant.Grant, now time.Time) *pages.GrantView {
	if g == nil {
		return nil
	}
	v := &pages.GrantView{
		JTI: g.JTI, State: string(g.State), IssuedAt: timeView(g.IssuedAt, now), Expires: timeView(g.ExpiresAt, now),
		Audience: audienceWords(r, g.Audience),
	}
	redeemed := g.RedeemedAt != nil
	v.Expired = g.State == grant.StateExpired || (!redeemed && now.After(g.ExpiresAt))
	switch {
	case redeemed:
		v.RedeemedAt, v.RedeemedBy = timeView(*g.RedeemedAt, now), redeemerWords(r, g.RedeemedBy)
		v.Summary = "Redeemed once by " + v.RedeemedBy + "; it cannot be used again."
	case v.Expired:
		v.Summary = "Expired unused: nothing ran with it."
	default:
		v.Summary = "Issued and not yet redeemed: " + v.Audience + " may redeem it once before it expires."
	}
	return v
}

// audienceWords names who may redeem a grant.
func audienceWords(r *models.Request, aud string) string {
	if strings.HasPrefix(aud, grant.AgentAudiencePrefix) {
		return "the requesting agent " + agentName(r, strings.TrimPrefix(aud, grant.AgentAudiencePrefix))
	}
	if aud == "" {
		return "no executor"
	}
	if r.RequesterType == models.ActorAgent {
		return "executor " + aud + " or the requesting agent " + agentName(r, r.RequesterID)
	}
	return "executor " + aud
}

// redeemerWords names who redeemed a grant (an executor or the agent).
func redeemerWords(r *models.Request, by string) string {
	if by == execution.TimedOutBy {
		return "Countersign: no result came in time"
	}
	if name, ok := strings.CutPrefix(by, "executor:"); ok {
		return "executor " + name
	}
	if r.RequesterType == models.ActorAgent && by == r.RequesterID {
		return "the requesting agent " + agentName(r, by)
	}
	return by
}

// agentName is the requesting agent's name when id is its bot user id.
func agentName(r *models.Request, id string) string {
	if id == r.RequesterID && r.RequesterName != "" {
		return r.RequesterName
	}
	return id
}
