package listen

import (
	"context"
	"log/slog"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/web/mattermost"
)

// MentionText returns what follows a leading @-mention of the bot named
// botName in message, and whether the message starts with one. Only a
// mention at the start is a command: a post that merely talks about the
// bot ("ask @countersign later") is conversation. "@countersign-dev" is
// another account, not a mention of "countersign".
func MentionText(message, botName string) (string, bool) {
	if botName == "" {
		return "", false
	}
	s := strings.TrimLeftFunc(message, unicode.IsSpace)
	prefix := "@" + botName
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", false
	}
	rest := s[len(prefix):]
	if r, _ := utf8.DecodeRuneInString(rest); rest != "" && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_.", r)) {
		return "", false
	}
	rest = strings.TrimLeft(rest, ":, \t\r\n")
	return strings.TrimSpace(rest), true
}

// mention answers a post that starts with a mention of the bot: once,
// whichever replica claims it, in the thread the post is in.
func (l *Listener) mention(ctx context.Context, p *model.Post) {
	botID, botName, err := l.bot(ctx)
	if err != nil {
		l.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "mattermost websocket: bot lookup failed", slog.String("error", err.Error()))
		return
	}
	if p.UserId == botID || p.Type != "" || p.DeleteAt != 0 {
		return // its own posts, system messages, deleted posts
	}
	text, ok := MentionText(p.Message, botName)
	if !ok {
		return
	}
	claimed, err := l.cfg.Claims.Claim(ctx, p.Id, l.owner, l.cfg.Lease)
	if err != nil {
		l.cfg.Logger.LogAttrs(ctx, slog.LevelError, "mattermost websocket: claim mention", slog.String("post_id", p.Id), slog.String("error", err.Error()))
		return
	}
	if !claimed {
		return // another replica answers it, or it was answered already
	}
	var reply mattermost.CommandReply
	if mattermost.FromWebhook(p) {
		// An incoming webhook posts under its creator's account with any
		// text: nobody can tell who wrote it, so it asks for nothing.
		reply.Text = "A post made through an incoming webhook cannot ask Countersign for anything: it carries its creator's account whoever wrote it. Nothing was stored."
	} else {
		reply = l.cfg.Commands.Run(ctx, mattermost.CommandCall{
			UserID: p.UserId, ChannelID: p.ChannelId, RootID: p.RootId, PostID: p.Id, Text: text,
		})
	}
	if reply.RequestID != "" {
		l.cfg.Queued()
	}
	// Finished before the answer is posted: a failed post must not make
	// another replica run the command again.
	if err := l.cfg.Claims.Finish(ctx, p.Id, l.owner, reply.RequestID); err != nil {
		l.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "mattermost websocket: finish mention", slog.String("post_id", p.Id), slog.String("error", err.Error()))
	}
	root := p.RootId
	if root == "" {
		root = p.Id
	}
	if _, err := l.cfg.Client.CreatePost(ctx, &model.Post{ChannelId: p.ChannelId, RootId: root, Message: reply.Text}); err != nil {
		l.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "mattermost websocket: answer mention", slog.String("post_id", p.Id),
			slog.String("request_id", reply.RequestID), slog.String("error", err.Error()))
	}
}

// changed re-reads the pending requests that captured an edited or
// deleted post.
func (l *Listener) changed(ctx context.Context, p *model.Post) {
	if botID, _, err := l.bot(ctx); err == nil && p.UserId == botID {
		return // Countersign's own messages are never captured
	}
	res, err := l.cfg.Rechecks.RecheckPost(ctx, p.Id)
	if err != nil {
		l.cfg.Logger.LogAttrs(ctx, slog.LevelError, "mattermost websocket: re-check after edit", slog.String("post_id", p.Id), slog.String("error", err.Error()))
		return
	}
	if len(res.Changed) > 0 {
		l.cfg.Queued()
	}
	if len(res.Changed) > 0 || len(res.Unchecked) > 0 {
		l.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "mattermost websocket: captured post changed",
			slog.String("post_id", p.Id), slog.Any("requests_changed", res.Changed), slog.Any("requests_unchecked", res.Unchecked))
	}
}
