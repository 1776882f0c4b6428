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

// MattermostCommandOptions configures the slash command (Tokens,
// BodyLimit) and the command itself, however it is typed (the rest; see
// ChatCommands).
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

// MattermostCommand serves the /countersign slash command: it checks the
// token and hands the call to ChatCommands.
type MattermostCommand struct {
	cmds      *ChatCommands
	tokens    [][32]byte
	bodyLimit int64
	log       *slog.Logger
}

// NewMattermostCommand returns the slash-command handler. Register:
//
//	POST /hooks/mattermost/command → Handle
func NewMattermostCommand(chat *mattermost.Client, svc *approval.Service, opts MattermostCommandOptions) (*MattermostCommand, error) {
	h := &MattermostCommand{cmds: NewChatCommands(chat, svc, opts), bodyLimit: positiveOr(opts.BodyLimit, DefaultCommandBodyLimit), log: loggerOr(opts.Logger)}
	for _, t := range opts.Tokens {
		if len(strings.TrimSpace(t)) < 16 {
			return nil, errors.New("mattermost command: every token must have at least 16 characters")
		}
		h.tokens = append(h.tokens, sha256.Sum256([]byte(t)))
	}
	if len(h.tokens) == 0 {
		return nil, errors.New("mattermost command: at least one token is required")
	}
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

// Handle serves POST /hooks/mattermost/command. A wrong or missing token is
// a bare 401; everything else is answered with an ephemeral reply that says
// what happened in plain words, and a refused command stores nothing.
func (h *MattermostCommand) Handle(c echo.Context) error {
	req := c.Request()
	req.Body = http.MaxBytesReader(c.Response(), req.Body, h.bodyLimit)
	if err := req.ParseForm(); err != nil {
		if tooLarge(err) {
			return ephemeral(c, mattermost.CommandReply{Text: "That command is too long for Countersign. Nothing was stored."})
		}
		return c.String(http.StatusBadRequest, "bad request")
	}
	if !h.tokenOK(req.PostForm.Get("token")) {
		h.log.LogAttrs(req.Context(), slog.LevelWarn, "mattermost command: token refused", slog.String("remote", c.RealIP()))
		return c.String(http.StatusUnauthorized, "unauthorized")
	}
	return ephemeral(c, h.cmds.Run(req.Context(), mattermost.CommandCall{
		UserID:    req.PostForm.Get("user_id"),
		ChannelID: req.PostForm.Get("channel_id"),
		RootID:    req.PostForm.Get("root_id"),
		Text:      req.PostForm.Get("text"),
	}))
}

// ephemeral answers a slash command: only the person who typed it sees
// the reply.
func ephemeral(c echo.Context, r mattermost.CommandReply) error {
	return c.JSON(http.StatusOK, &model.CommandResponse{ResponseType: model.CommandResponseTypeEphemeral, Text: r.Text, GotoLocation: r.GotoLocation})
}

// refusal words a validation error for chat.
func refusal(err error) string {
	var ve *models.ValidationError
	if errors.As(err, &ve) {
		return fmt.Sprintf("Please check %s: %s.", ve.Field, strings.TrimSuffix(ve.Reason, "."))
	}
	return "That command could not be understood."
}
