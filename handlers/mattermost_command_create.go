package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/chatcmd"
	"github.com/countersign/countersign/models/policy"
	"github.com/countersign/countersign/web/mattermost"
	"github.com/countersign/countersign/web/mattermost/notify"
)

// WindowOpenAction is the action name of a change-window request.
const WindowOpenAction = "window.open"

// rolesOf returns the policy roles of a Mattermost username (none without
// a policy).
func rolesOf(p *policy.Policy, username string) []string {
	if p == nil {
		return nil
	}
	return p.RolesForMattermostUser(username)
}

// create opens a request for an action or a change window: check it
// against the catalogue, capture the conversation, submit. Every refusal
// happens before anything is stored.
func (h *ChatCommands) create(ctx, chatCtx context.Context, inv *invocation) mattermost.CommandReply {
	if inv.call.Mention() {
		// A replica that crashed after storing the request but before
		// marking the mention answered leaves it to be answered again:
		// answer with the request, do not make a second one.
		if r, err := h.svc.TriggeredBy(ctx, inv.call.PostID); err == nil {
			return mattermost.CommandReply{RequestID: r.ID, Text: fmt.Sprintf("**%s** %s was already made from this post. Review it in Countersign: %s", r.ID, describe(r), h.requestURL(r.ID))}
		}
	}
	p := h.currentPolicy()
	if p == nil {
		return h.say("No policy is loaded, so nothing can be requested yet. Nothing was stored.")
	}
	roles := rolesOf(p, inv.user.Username)
	cmd := inv.cmd
	in := approval.NewRequest{Requester: inv.actor, Purpose: cmd.Purpose}
	if cmd.Verb == chatcmd.VerbWindowOpen {
		in.Kind, in.Action = models.KindWindow, WindowOpenAction
		in.Params = map[string]any{"window": cmd.Window, "duration": cmd.Duration}
		if err := h.svc.CheckRequest(&in, roles); err != nil {
			return h.say(refusal(err) + " Nothing was stored.")
		}
	} else {
		// An action the caller may not request is as unknown to them as
		// one that does not exist.
		notYours := fmt.Sprintf("%q is not an action you can request. Nothing was stored.\n\n%s", cmd.Action, h.actionList(p, roles))
		act, ok := p.Action(cmd.Action)
		if !ok {
			return h.say(notYours)
		}
		// The command's words become typed parameters by the catalogue;
		// the catalogue's rules then apply as for every request.
		params, err := cmd.Params(act)
		if err == nil {
			in.Kind, in.Action, in.Params = models.KindAction, act.Name, params
			err = h.svc.CheckRequest(&in, roles)
		}
		var ve *models.ValidationError
		switch {
		case errors.Is(err, approval.ErrNotRequester):
			return h.say(notYours)
		case errors.As(err, &ve) && ve.Field == "purpose":
			return h.say(fmt.Sprintf("%s needs a purpose: add `-- why` at the end. Nothing was stored.\nUsage: `/countersign %s`", act.Name, act.Usage()))
		case err != nil:
			return h.say(fmt.Sprintf("%s Nothing was stored.\nUsage: `/countersign %s`", refusal(err), act.Usage()))
		}
	}

	capt, err := h.capture(chatCtx, inv)
	if err != nil {
		h.log.LogAttrs(ctx, slog.LevelWarn, "mattermost command: capture failed", slog.String("error", err.Error()))
		var ve *models.ValidationError
		if errors.As(err, &ve) {
			return h.say(refusal(err) + " Nothing was stored.")
		}
		return h.say("Countersign could not read the conversation (" + chatTrouble(err) + "). Nothing was stored; " + chatAdvice(err) + ".")
	}
	in.Source, in.Posts, in.CaptureWarnings = capt.Source, capt.Posts, capt.Warnings
	if inv.call.Mention() {
		// The mention is the request's trigger: Countersign's message goes
		// in its thread and /mm/{post_id} finds the request from it.
		in.Source.TriggerPostID = inv.call.PostID
	}

	sub, err := h.svc.Submit(ctx, in, roles)
	if err != nil {
		var ve *models.ValidationError
		if errors.As(err, &ve) {
			return h.say(refusal(err) + " Nothing was stored.")
		}
		h.log.LogAttrs(ctx, slog.LevelError, "mattermost command: submit failed", slog.String("error", err.Error()))
		return h.say("Countersign could not store the request. Nothing was stored; try again in a moment.")
	}
	r := sub.Request
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** %s — %s.\n", r.ID, describe(r), outcomeWords(sub))
	if note := capt.Note(); note != "" {
		b.WriteString(note + "\n")
	}
	if capt.Source.RootPostID == "" {
		b.WriteString(h.channelCaptureNote(chatCtx, inv, len(capt.Posts)) + "\n")
	}
	fmt.Fprintf(&b, "Review it in Countersign: %s", h.requestURL(r.ID))
	return mattermost.CommandReply{Text: b.String(), RequestID: r.ID}
}

// channelCaptureNote says that the channel's recent posts were captured,
// not a thread, and how to capture a thread. Mattermost up to 10.x does
// not tell a slash command the thread it was typed in; a mention carries
// its thread, so a mention without one was a top-level post.
func (h *ChatCommands) channelCaptureNote(ctx context.Context, inv *invocation, n int) string {
	mention := "mention Countersign's bot in a reply in the thread"
	if name, err := h.chat.BotUsername(ctx); err == nil {
		mention = "write " + notify.Code("@"+name+" "+inv.call.Text, 500) + " as a reply in the thread"
	}
	if inv.call.Mention() {
		return fmt.Sprintf("Captured the channel's last %d posts, because the mention was not in a thread. To capture a thread instead, %s, or add `thread=<link to the thread's first post>`.", n, mention)
	}
	return fmt.Sprintf("Captured the channel's last %d posts. If you typed this in a thread, Mattermost did not tell Countersign which one (it cannot see the thread of a slash command): %s, or run the command again with `thread=<link to the thread's first post>`.", n, mention)
}

// capture reads the conversation the command belongs to: the thread the
// requester named with thread=, else the thread the command was typed in
// (root_id, sent by newer servers), else the channel's recent posts.
// Countersign's own posts are left out.
func (h *ChatCommands) capture(ctx context.Context, inv *invocation) (*mattermost.Capture, error) {
	req := mattermost.CaptureRequest{ChannelID: inv.call.ChannelID, PostRef: inv.cmd.Thread}
	if req.PostRef == "" {
		req.PostRef = inv.call.RootID
	}
	if bot, err := h.chat.BotUserID(ctx); err == nil {
		req.ExcludeUserIDs = []string{bot}
	} else {
		return nil, err
	}
	return h.chat.Capture(ctx, req)
}

func (h *ChatCommands) currentPolicy() *policy.Policy {
	if h.policy == nil {
		return nil
	}
	return h.policy.Current()
}

// describe is a one-line summary of what a request asks for.
func describe(r *models.Request) string {
	s := "`" + r.Action
	if r.Params != "" && r.Params != "{}" {
		s += " " + r.Params
	}
	s += "`"
	if r.Purpose != "" {
		s += " for “" + r.Purpose + "”"
	}
	return s
}

// outcomeWords says in plain words what the policy decided.
func outcomeWords(sub *approval.Submitted) string {
	if sub.Outcome.Explanation != "" {
		return sub.Outcome.Explanation
	}
	return string(sub.Request.State)
}
