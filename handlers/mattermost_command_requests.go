package handlers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/policy"
	"github.com/countersign/countersign/web/mattermost"
	"github.com/countersign/countersign/web/mattermost/notify"
)

// helpText lists the syntax and only the actions the caller may request.
func (h *ChatCommands) helpText(ctx context.Context, inv *invocation) string {
	var b strings.Builder
	b.WriteString("**Countersign** — ask for an operational action; people with the right role approve it in the portal.\n\n")
	p := h.currentPolicy()
	if p == nil {
		b.WriteString("No policy is loaded, so there is nothing to request yet.\n\n")
	} else {
		b.WriteString(h.actionList(p, rolesOf(p, inv.user.Username)) + "\n\n")
	}
	b.WriteString("Bare arguments fill the required parameters in order; name the others `key=value` (quote values with spaces: `note=\"two words\"`). Add `thread=<permalink>` to attach a thread.\n")
	b.WriteString("`/countersign status REQ-…` · `/countersign open REQ-…` · `/countersign cancel REQ-…`\n")
	b.WriteString("`/countersign window open NAME DURATION -- purpose` · `/countersign window close NAME`")
	if name, err := h.chat.BotUsername(ctx); err == nil {
		// Mattermost up to 10.x does not tell a slash command which thread
		// it was typed in; a mention carries it.
		fmt.Fprintf(&b, "\n\nIn a thread, write the same after a mention of the bot — `@%s <command>` — to capture exactly that thread.", name)
	}
	return b.String()
}

// actionList names the actions someone with roles may request.
func (h *ChatCommands) actionList(p *policy.Policy, roles []string) string {
	acts := p.ActionsFor(roles)
	if len(acts) == 0 {
		return "There are no actions you can request."
	}
	var b strings.Builder
	b.WriteString("Actions you can request:")
	for _, a := range acts {
		fmt.Fprintf(&b, "\n- `/countersign %s`", a.Usage())
		if a.Description != "" {
			b.WriteString(" — " + a.Description)
		}
	}
	return b.String()
}

// visible loads a request the caller may see, by the same rule as the
// portal (approval.Service.MayView): their own, their agent's (as sponsor),
// or any when the policy gives them a role beyond requesting. Anything else
// reads as not found, so ids do not leak.
func (h *ChatCommands) visible(ctx context.Context, inv *invocation) (*models.Request, error) {
	r, err := h.svc.Get(ctx, inv.cmd.RequestID)
	if err != nil {
		return nil, err
	}
	viewer := approval.Approver{
		Actor:    models.Actor{Type: models.ActorHuman, ID: inv.user.Id, Display: inv.user.Username},
		Username: inv.user.Username, Roles: rolesOf(h.currentPolicy(), inv.user.Username),
	}
	if h.svc.MayView(r, viewer) {
		return r, nil
	}
	return nil, fmt.Errorf("request %s hidden from %s: %w", r.ID, inv.user.Id, models.ErrNotFound)
}

// lookupFailed words a failed load.
func (h *ChatCommands) lookupFailed(ctx context.Context, inv *invocation, err error) mattermost.CommandReply {
	if errors.Is(err, models.ErrNotFound) {
		return h.say(fmt.Sprintf("There is no request %s that you can see.", inv.cmd.RequestID))
	}
	h.log.Error("mattermost command: load request", "error", err.Error())
	return h.say("Countersign could not load that request; try again in a moment.")
}

// status answers with where a request stands.
func (h *ChatCommands) status(ctx context.Context, inv *invocation) mattermost.CommandReply {
	r, err := h.visible(ctx, inv)
	if err != nil {
		return h.lookupFailed(ctx, inv, err)
	}
	sum := summarize(r)
	text := fmt.Sprintf("**%s** %s is **%s**: %d of %d approvals", r.ID, describe(r), r.State, sum.Approvals, r.RequiredApprovals)
	if sum.Denials > 0 {
		text += fmt.Sprintf(", %d denial", sum.Denials)
	}
	return h.say(text + ".\n" + h.requestURL(r.ID))
}

// open sends the person's browser to the request page.
func (h *ChatCommands) open(ctx context.Context, inv *invocation) mattermost.CommandReply {
	r, err := h.visible(ctx, inv)
	if err != nil {
		return h.lookupFailed(ctx, inv, err)
	}
	reply := mattermost.CommandReply{Text: "Opening " + r.ID + ": " + h.requestURL(r.ID)}
	if !inv.call.Mention() {
		// Only a slash command's answer can move the caller's browser.
		reply.GotoLocation = h.requestURL(r.ID)
	}
	return reply
}

// cancel withdraws a pending request; only the person who made it may.
func (h *ChatCommands) cancel(ctx context.Context, inv *invocation) mattermost.CommandReply {
	r, err := h.visible(ctx, inv)
	if err != nil {
		return h.lookupFailed(ctx, inv, err)
	}
	_, err = h.svc.Cancel(ctx, r.ID, inv.user.Id, "cancelled by the requester from Mattermost")
	switch {
	case err == nil:
		return h.say(fmt.Sprintf("%s is cancelled. %s", r.ID, h.requestURL(r.ID)))
	case errors.Is(err, approval.ErrNotYours):
		return h.say(fmt.Sprintf("Only the person who made %s (or, for an agent, its sponsor) can cancel it.", r.ID))
	case errors.Is(err, approval.ErrNotPending):
		return h.say(notPendingText(err, r) + " " + h.requestURL(r.ID))
	}
	h.log.Error("mattermost command: cancel", "request_id", r.ID, "error", err.Error())
	return h.say("Countersign could not cancel the request; nothing changed. Try again in a moment.")
}

// closeWindow ends a change window early.
func (h *ChatCommands) closeWindow(ctx context.Context, inv *invocation) mattermost.CommandReply {
	if h.windows == nil {
		return h.say("Closing change windows is not available on this Countersign.")
	}
	err := h.windows.Close(ctx, inv.cmd.Window, inv.actor)
	switch {
	case err == nil:
		return h.say(fmt.Sprintf("Change window %s is closed.", inv.cmd.Window))
	case errors.Is(err, models.ErrNotFound):
		return h.say(fmt.Sprintf("There is no open change window named %s.", inv.cmd.Window))
	case errors.Is(err, models.ErrForbidden):
		return h.say(fmt.Sprintf("You may not close change window %s.", inv.cmd.Window))
	}
	h.log.Error("mattermost command: close window", "window", inv.cmd.Window, "error", err.Error())
	return h.say("Countersign could not close the window; nothing changed. Try again in a moment.")
}

// DecisionSummary counts the decisions that still count: those made on the
// request's current content.
type DecisionSummary struct {
	Approvals int      `json:"approvals"`
	Denials   int      `json:"denials"`
	Approvers []string `json:"approvers"`
}

// summarize counts r's current decisions.
func summarize(r *models.Request) DecisionSummary {
	t := r.Tally()
	s := DecisionSummary{Approvals: t.Approved(), Denials: t.Denials, Approvers: []string{}}
	for _, d := range t.Approvals {
		s.Approvers = append(s.Approvers, d.ApproverName)
	}
	return s
}

// notPendingText tells a canceller who came too late where the request
// stands now, and who moved it there (another replica may have answered
// someone else's cancel or decision a moment before).
func notPendingText(err error, r *models.Request) string {
	var me *approval.MovedError
	if !errors.As(err, &me) {
		return fmt.Sprintf("%s is no longer pending, so it can no longer be cancelled.", r.ID)
	}
	s := fmt.Sprintf("%s was already %s", me.ID, me.State)
	if me.By != "" {
		s += " by " + notify.Escape(me.By, 80)
	}
	if !me.At.IsZero() {
		s += " at " + me.At.UTC().Format("15:04:05 UTC")
	}
	return s + "; nothing changed."
}
