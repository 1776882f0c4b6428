package mattermost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/contenthash"
)

// author is what one capture learned about one account, from the server.
type author struct {
	username string
	isBot    bool
	// ownerID is the bot's owner; empty for humans and when the bot record
	// could not be read.
	ownerID string
	// member is channel membership at capture time.
	member bool
}

// authors resolves each account once per capture, a few at a time.
type authors struct {
	byID     map[string]*author
	warnings []string
}

// resolveAuthors looks up every distinct user id: GetUser for the account
// (is_bot is the only trustworthy bot flag), GetBot for a bot's owner, and
// the channel membership. A bot whose record the Countersign bot may not
// read (Mattermost answers 404 without read_others_bots) keeps an empty
// owner and adds a warning; any other failure fails the capture, because
// a post whose author is unknown must not be shown as if it were known.
func (c *Client) resolveAuthors(ctx context.Context, channelID string, userIDs []string) (*authors, error) {
	res := &authors{byID: make(map[string]*author, len(userIDs))}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, c.cfg.Concurrency)
	seen := map[string]bool{}
	for _, id := range userIDs {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			a, warning, err := c.resolveAuthor(ctx, channelID, id)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				return
			}
			res.byID[id] = a
			if warning != "" {
				res.warnings = append(res.warnings, warning)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return res, nil
}

// resolveAuthor looks up one account.
func (c *Client) resolveAuthor(ctx context.Context, channelID, userID string) (*author, string, error) {
	u, err := c.getUser(ctx, userID)
	if err != nil {
		return nil, "", fmt.Errorf("resolve author %s: %w", userID, err)
	}
	a := &author{username: u.Username, isBot: u.IsBot}
	warning := ""
	if u.IsBot {
		b, err := c.getBot(ctx, userID)
		switch {
		case err == nil:
			a.ownerID = b.OwnerId
		case errors.Is(err, models.ErrNotFound), errors.Is(err, models.ErrForbidden):
			warning = fmt.Sprintf("owner of bot @%s (%s) unknown: the Countersign bot may not read bot records (grant it read_others_bots)", u.Username, userID)
			c.log.LogAttrs(ctx, slog.LevelWarn, "mattermost: bot owner not readable", slog.String("bot_user_id", userID))
		default:
			return nil, "", fmt.Errorf("resolve owner of bot %s: %w", userID, err)
		}
	}
	a.member, err = c.isChannelMember(ctx, channelID, userID)
	if err != nil {
		return nil, "", fmt.Errorf("resolve membership of %s: %w", userID, err)
	}
	return a, warning, nil
}

// conversationPost records one post with the provenance found on the
// server. The kind comes from the account, never from props.from_bot:
//
//   - props.from_webhook "true" → webhook. The author id is the post's
//     user id: the webhook's creator, or for a slash-command reply the
//     person who ran the command. override_username is kept apart; it is
//     a label anyone with the integration can choose, never an identity.
//   - else an account with is_bot → bot, with its owner.
//   - else → human.
//
// Props can only make a post look less trustworthy (a human who sets
// from_webhook on their own post is shown as a webhook post); nothing in
// props can make a post look like someone else's.
func (c *Client) conversationPost(p *model.Post, a *author) (models.ConversationPost, error) {
	if a == nil {
		return models.ConversationPost{}, fmt.Errorf("post %s: author %q was not resolved", p.Id, p.UserId)
	}
	cp := models.ConversationPost{
		PostID:        p.Id,
		RootID:        p.RootId,
		AuthorID:      p.UserId,
		AuthorName:    a.username,
		ChannelMember: a.member,
		Message:       clipMessage(p.Message, c.cfg.MaxMessageBytes),
		CreateAt:      p.CreateAt,
		EditAt:        p.EditAt,
		DeleteAt:      p.DeleteAt,
	}
	cp.FromWebhook, cp.OverrideUsername = webhookProps(p)
	if a.isBot {
		cp.BotOwnerID = a.ownerID
	}
	switch {
	case cp.FromWebhook:
		cp.AuthorKind = models.AuthorWebhook
	case a.isBot:
		cp.AuthorKind = models.AuthorBot
	default:
		cp.AuthorKind = models.AuthorHuman
	}
	h, err := contenthash.PostHash(&cp)
	if err != nil {
		return cp, fmt.Errorf("hash post %s: %w", p.Id, err)
	}
	cp.Hash = h
	return cp, nil
}

// webhookProps reads from_webhook and override_username. Mattermost stores
// them as strings; any other type is still taken as a claim to be shown,
// so it cannot hide.
func webhookProps(p *model.Post) (fromWebhook bool, override string) {
	switch v := p.GetProp(model.PostPropsFromWebhook).(type) {
	case string:
		fromWebhook = v == "true"
	case bool:
		fromWebhook = v
	}
	switch v := p.GetProp(model.PostPropsOverrideUsername).(type) {
	case nil:
	case string:
		override = v
	default:
		override = fmt.Sprint(v)
	}
	return fromWebhook, override
}

// clipMessage keeps a message within limit bytes, cut on a rune boundary,
// with a visible note, so one huge post cannot make a request unstorable.
// Capture and Recapture clip alike, so a clipped post compares equal to
// itself.
func clipMessage(msg string, limit int) string {
	if !utf8.ValidString(msg) {
		msg = strings.ToValidUTF8(msg, "\uFFFD")
	}
	if len(msg) <= limit {
		return msg
	}
	note := fmt.Sprintf("\n[… clipped by Countersign: %d bytes in total]", len(msg))
	cut := max(limit-len(note), 0)
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + note
}

// isSystem reports Mattermost's own messages (joins, header changes…):
// nobody wrote them, so they are not conversation.
func isSystem(p *model.Post) bool {
	return strings.HasPrefix(p.Type, model.PostSystemMessagePrefix)
}
