package handlers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/terms"
	"github.com/countersign/countersign/templates/pages"
)

// requestTitle is what a request is called in a heading or a list link:
// its purpose (why, in the requester's words), else the action's
// catalogue description, else the action.
func requestTitle(r *models.Request, description string) string {
	return firstNonEmpty(strings.TrimSpace(r.Purpose), description, r.Action)
}

// actionDescription is the catalogue's description of r's action and the
// executor it names; empty without a catalogue or for an unknown action.
func (h *Requests) actionDescription(r *models.Request) (description, executor string) {
	if h.catalogue == nil {
		return "", ""
	}
	p := h.catalogue()
	if p == nil {
		return "", ""
	}
	if r.Kind == models.KindWindow {
		if w, ok := p.Window(r.Action); ok {
			return w.Description, ""
		}
		return "", ""
	}
	if a, ok := p.Action(r.Action); ok {
		return a.Description, a.Executor
	}
	return "", ""
}

// summaryView builds what leads the request page: one sentence on who
// asks for what, where and why, and what approving will set off.
func (h *Requests) summaryView(ctx context.Context, r *models.Request) (pages.RequestSummary, error) {
	description, executor := h.actionDescription(r)
	ttl := r.GrantTTL
	if h.terms != nil {
		t, found, err := h.terms.Terms(ctx, r.ID)
		if err != nil {
			return pages.RequestSummary{}, fmt.Errorf("terms of %s: %w", r.ID, err)
		}
		if found {
			executor, ttl = firstNonEmpty(t.Executor, executor), t.GrantLifetime()
		}
	}
	if ttl <= 0 {
		ttl = terms.DefaultGrantTTL
	}
	s := pages.RequestSummary{
		Title:       requestTitle(r, description),
		Sentence:    requestSentence(r),
		Description: description,
		Roles:       rolesText(r.ApproverRoles),
	}
	if r.Kind == models.KindWindow {
		s.Effect = "Approving opens the change window " + r.Action + " for the requested time; no executor runs anything."
		return s, nil
	}
	if executor == "" {
		s.Effect = "Approving issues a single-use grant, valid " + lifetimeText(ttl) + "; no executor is named, so " +
			audienceWords(r, "") + " will run it."
		if r.RequesterType == models.ActorAgent {
			s.Effect = "Approving issues a single-use grant, valid " + lifetimeText(ttl) + ", that the requesting agent " + agentName(r, r.RequesterID) + " may redeem once."
		}
		return s, nil
	}
	s.Executor, s.GrantLifetime = executor, lifetimeText(ttl)
	s.Effect = "Approving issues a single-use grant, valid " + lifetimeText(ttl) + ", that " + audienceWords(r, executor) +
		" may redeem once to run it."
	return s, nil
}

// requestSentence says who asks for what, where and why, in one line.
func requestSentence(r *models.Request) string {
	var b strings.Builder
	b.WriteString(firstNonEmpty(r.RequesterName, r.RequesterID))
	if r.RequesterType == models.ActorAgent {
		b.WriteString(" (an agent")
		if r.SponsorName != "" {
			b.WriteString(" sponsored by " + r.SponsorName)
		}
		b.WriteString(")")
	}
	if r.Kind == models.KindWindow {
		b.WriteString(" asks to open the change window " + r.Action)
	} else {
		b.WriteString(" asks to run " + r.Action)
	}
	if p := paramsSummary(r.Params); p != "" && p != "{}" {
		b.WriteString(" with " + p)
	}
	if r.ChannelName != "" {
		b.WriteString(" from ~" + r.ChannelName)
	}
	if purpose := strings.TrimSpace(r.Purpose); purpose != "" {
		b.WriteString(", because: " + purpose)
	} else {
		b.WriteString(", without giving a purpose")
	}
	return b.String()
}

// lifetimeText is a grant lifetime for people: "5 min", "2 h", "90 s".
func lifetimeText(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < 2*time.Hour && d%time.Hour != 0:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	default:
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
}
