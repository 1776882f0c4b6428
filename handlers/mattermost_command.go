package handlers

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/chatcmd"
	"github.com/countersign/countersign/web/mattermost"
)

// WindowCloser closes a change window early (wired by the change-window
// feature; nil makes "window close" answer that it is not available).
type WindowCloser interface {
	Close(ctx context.Context, name string, actor models.Actor) error
}

// Slash-command defaults.
const (
	// DefaultCommandDeadline bounds everything a command asks of
	// Mattermost, so the person gets an answer well within the 3 s
	// Mattermost waits.
	DefaultCommandDeadline = 2500 * time.Millisecond
	// DefaultCommandBodyLimit bounds the form Mattermost posts.
	DefaultCommandBodyLimit = 64 << 10
)

// MattermostCommandOptions configures the slash command.
type MattermostCommandOptions struct {
	// Tokens are the accepted command tokens (several while rotating).
	// Only their SHA-256 digests are kept.
	Tokens []string
	// PublicURL is the portal's base URL; replies link to request pages.
	PublicURL string
	// Policy gives the policy in force (catalogue for help and parsing).
	Policy approval.PolicySource
	// Windows closes change windows; nil disables "window close".
	Windows WindowCloser
	// Deadline bounds the calls to Mattermost of one command.
	Deadline time.Duration
	// BodyLimit bounds the form body in bytes.
	BodyLimit int64
	// Logger receives refusals and failures, never tokens.
	Logger *slog.Logger
}

// MattermostCommand serves the /countersign slash command.
type MattermostCommand struct {
	chat      *mattermost.Client
	svc       *approval.Service
	tokens    [][32]byte
	publicURL string
	policy    approval.PolicySource
	windows   WindowCloser
	deadline  time.Duration
	bodyLimit int64
	log       *slog.Logger
}

// NewMattermostCommand returns the slash-command handler. Register:
//
//	POST /hooks/mattermost/command → Handle
func NewMattermostCommand(chat *mattermost.Client, svc *approval.Service, opts MattermostCommandOptions) (*MattermostCommand, error) {
	h := &MattermostCommand{
		chat: chat, svc: svc, publicURL: strings.TrimRight(opts.PublicURL, "/"),
		policy: opts.Policy, windows: opts.Windows, deadline: opts.Deadline, bodyLimit: opts.BodyLimit, log: opts.Logger,
	}
	for _, t := range opts.Tokens {
		if len(strings.TrimSpace(t)) < 16 {
			return nil, errors.New("mattermost command: every token must have at least 16 characters")
		}
		h.tokens = append(h.tokens, sha256.Sum256([]byte(t)))
	}
	if len(h.tokens) == 0 {
		return nil, errors.New("mattermost command: at least one token is required")
	}
	h.deadline = positiveOr(h.deadline, DefaultCommandDeadline)
	h.bodyLimit = positiveOr(h.bodyLimit, DefaultCommandBodyLimit)
	h.log = loggerOr(h.log)
	return h, nil
}

// tokenOK compares the presented token's digest with every configured one
// in constant time, without stopping early, so neither the match nor its
// position leaks through timing.
func (h *MattermostCommand) tokenOK(presented string) bool {
	got := sha256.Sum256([]byte(presented))
	ok := 0
	for i := range h.tokens {
		ok |= subtle.ConstantTimeCompare(got[:], h.tokens[i][:])
	}
	return ok == 1 && presented != ""
}

// invocation is one verified command call.
type invocation struct {
	user      *model.User
	actor     models.Actor
	channelID string
	rootID    string
	cmd       *chatcmd.Command
}

// Handle serves POST /hooks/mattermost/command. A wrong or missing token is
// a bare 401; everything else is answered with an ephemeral reply that says
// what happened in plain words, and a refused command stores nothing.
func (h *MattermostCommand) Handle(c echo.Context) error {
	req := c.Request()
	req.Body = http.MaxBytesReader(c.Response(), req.Body, h.bodyLimit)
	if err := req.ParseForm(); err != nil {
		if tooLarge(err) {
			return h.reply(c, "That command is too long for Countersign. Nothing was stored.")
		}
		return c.String(http.StatusBadRequest, "bad request")
	}
	if !h.tokenOK(req.PostForm.Get("token")) {
		h.log.LogAttrs(req.Context(), slog.LevelWarn, "mattermost command: token refused", slog.String("remote", c.RealIP()))
		return c.String(http.StatusUnauthorized, "unauthorized")
	}
	cmd, err := chatcmd.Parse(req.PostForm.Get("text"))
	if err != nil {
		return h.reply(c, refusal(err)+" Nothing was stored. Type /countersign help for the syntax.")
	}
	ctx, cancel := context.WithTimeout(req.Context(), h.deadline)
	defer cancel()
	user, err := h.chat.User(ctx, req.PostForm.Get("user_id"))
	if err != nil {
		h.log.LogAttrs(req.Context(), slog.LevelWarn, "mattermost command: user lookup failed", slog.String("error", err.Error()))
		return h.reply(c, "Countersign could not look up your Mattermost account ("+chatTrouble(err)+"). Nothing was stored; "+chatAdvice(err)+".")
	}
	inv := &invocation{
		user:      user,
		actor:     models.Actor{Type: models.ActorHuman, ID: user.Id, Display: user.Username},
		channelID: req.PostForm.Get("channel_id"),
		rootID:    req.PostForm.Get("root_id"),
		cmd:       cmd,
	}
	if user.IsBot {
		// Bots propose through the agent API with their own credential.
		return h.reply(c, "Bot accounts cannot use /countersign; agents use the Countersign API. Nothing was stored.")
	}
	switch cmd.Verb {
	case chatcmd.VerbHelp:
		return h.reply(c, h.helpText(inv))
	case chatcmd.VerbStatus:
		return h.status(c, inv)
	case chatcmd.VerbOpen:
		return h.open(c, inv)
	case chatcmd.VerbCancel:
		return h.cancel(c, inv)
	case chatcmd.VerbWindowClose:
		return h.closeWindow(c, inv)
	case chatcmd.VerbWindowOpen, chatcmd.VerbAction:
		return h.create(c, ctx, inv)
	}
	return h.reply(c, "Unknown command. Type /countersign help.")
}

// reply answers with an ephemeral message: only the person who typed the
// command sees it.
func (h *MattermostCommand) reply(c echo.Context, text string) error {
	return c.JSON(http.StatusOK, &model.CommandResponse{ResponseType: model.CommandResponseTypeEphemeral, Text: text})
}

// requestURL is the portal page of a request.
func (h *MattermostCommand) requestURL(id string) string { return h.publicURL + requestPath(id) }

// refusal words a validation error for chat.
func refusal(err error) string {
	var ve *models.ValidationError
	if errors.As(err, &ve) {
		return fmt.Sprintf("Please check %s: %s.", ve.Field, strings.TrimSuffix(ve.Reason, "."))
	}
	return "That command could not be understood."
}
