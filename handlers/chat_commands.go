package handlers

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/chatcmd"
	"github.com/countersign/countersign/web/mattermost"
)

// ChatCommands runs Countersign's chat command, however it was typed: the
// /countersign slash command (MattermostCommand, after its token is
// checked) or an @-mention of the bot that the WebSocket listener
// (web/mattermost/listen) saw. Both get the same parsing, policy, capture
// and replies; only where the reply goes differs.
type ChatCommands struct {
	chat      *mattermost.Client
	svc       *approval.Service
	publicURL string
	policy    approval.PolicySource
	windows   WindowCloser
	deadline  time.Duration
	log       *slog.Logger
}

// NewChatCommands returns the command runner (opts.Tokens and
// opts.BodyLimit belong to the slash command's HTTP side and are not used
// here).
func NewChatCommands(chat *mattermost.Client, svc *approval.Service, opts MattermostCommandOptions) *ChatCommands {
	return &ChatCommands{
		chat: chat, svc: svc, publicURL: strings.TrimRight(opts.PublicURL, "/"),
		policy: opts.Policy, windows: opts.Windows,
		deadline: positiveOr(opts.Deadline, DefaultCommandDeadline), log: loggerOr(opts.Logger),
	}
}

// invocation is one verified command call.
type invocation struct {
	call  mattermost.CommandCall
	user  *model.User
	actor models.Actor
	cmd   *chatcmd.Command
}

// Run parses and performs one call and says what happened in plain words.
// A refused command stores nothing. ctx bounds the database work; the
// calls to Mattermost are bounded further by the command deadline.
func (h *ChatCommands) Run(ctx context.Context, call mattermost.CommandCall) mattermost.CommandReply {
	cmd, err := chatcmd.Parse(call.Text)
	if err != nil {
		return h.say(refusal(err) + " Nothing was stored. " + h.syntaxHint(call))
	}
	chatCtx, cancel := context.WithTimeout(ctx, h.deadline)
	defer cancel()
	user, err := h.chat.User(chatCtx, call.UserID)
	if err != nil {
		h.log.LogAttrs(ctx, slog.LevelWarn, "mattermost command: user lookup failed", slog.String("error", err.Error()))
		return h.say("Countersign could not look up your Mattermost account (" + chatTrouble(err) + "). Nothing was stored; " + chatAdvice(err) + ".")
	}
	inv := &invocation{
		call:  call,
		user:  user,
		actor: models.Actor{Type: models.ActorHuman, ID: user.Id, Display: user.Username},
		cmd:   cmd,
	}
	if user.IsBot {
		// Bots propose through the agent API with their own credential.
		return h.say("Bot accounts cannot use the Countersign command; agents use the Countersign API. Nothing was stored.")
	}
	switch cmd.Verb {
	case chatcmd.VerbHelp:
		return h.say(h.helpText(chatCtx, inv))
	case chatcmd.VerbStatus:
		return h.status(ctx, inv)
	case chatcmd.VerbOpen:
		return h.open(ctx, inv)
	case chatcmd.VerbCancel:
		return h.cancel(ctx, inv)
	case chatcmd.VerbWindowClose:
		return h.closeWindow(ctx, inv)
	case chatcmd.VerbWindowOpen, chatcmd.VerbAction:
		return h.create(ctx, chatCtx, inv)
	}
	return h.say("Unknown command. " + h.syntaxHint(call))
}

// say is a plain reply.
func (h *ChatCommands) say(text string) mattermost.CommandReply {
	return mattermost.CommandReply{Text: text}
}

// syntaxHint points at the help in the form the caller used.
func (h *ChatCommands) syntaxHint(call mattermost.CommandCall) string {
	if call.Mention() {
		return "Write `help` after the mention for the syntax."
	}
	return "Type /countersign help for the syntax."
}

// requestURL is the portal page of a request.
func (h *ChatCommands) requestURL(id string) string { return h.publicURL + requestPath(id) }
