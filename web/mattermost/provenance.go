package mattermost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
	// could not be read. ownerName is the owner's username, when known.
	ownerID, ownerName string
	// member is channel membership at capture time.
	member bool
}

// authors is what one capture learned about its authors.
type authors struct {
	byID     map[string]*author
	warnings []string
}

// resolveAuthors looks up every distinct user id with as few calls as
// possible: the accounts in one POST /users/ids (is_bot is the only
// trustworthy bot flag; recently seen accounts may come from the cache),
// the channel membership of all of them in one POST
// /channels/{id}/members/ids (never cached), both at once, and then
// GetBot for each bot author's owner. A bot whose record the Countersign
// bot may not read (Mattermost answers 404 without read_others_bots)
// keeps an empty owner and adds a warning. Any other failure — and an
// account Mattermost does not return — fails the capture, because a post
// whose author is unknown must not be shown as if it were known.
// Deactivated accounts are returned by Mattermost and resolved like the
// others: their posts stay theirs.
func (c *Client) resolveAuthors(ctx context.Context, channelID string, userIDs []string) (*authors, error) {
	ids := distinctIDs(userIDs)
	res := &authors{byID: make(map[string]*author, len(ids))}
	if len(ids) == 0 {
		return res, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		members   map[string]bool
		memberErr error
		done      = make(chan struct{})
	)
	go func() {
		defer close(done)
		members, memberErr = c.channelMembers(ctx, channelID, ids)
		if memberErr != nil {
			cancel()
		}
	}()
	users, userErr := c.getUsers(ctx, ids)
	if userErr != nil {
		cancel()
	}
	<-done
	switch {
	case userErr != nil:
		return nil, fmt.Errorf("resolve authors: %w", userErr)
	case memberErr != nil:
		return nil, fmt.Errorf("resolve membership of authors: %w", memberErr)
	}
	var botIDs []string
	for _, id := range ids {
		u := users[id]
		if u == nil {
			return nil, fmt.Errorf("resolve author %s: %w: Mattermost did not return this account", id, models.ErrNotFound)
		}
		res.byID[id] = &author{username: u.Username, isBot: u.IsBot, member: members[id]}
		if u.IsBot {
			botIDs = append(botIDs, id)
		}
	}
	if err := c.resolveOwners(ctx, res, botIDs); err != nil {
		return nil, err
	}
	c.resolveOwnerNames(ctx, res)
	return res, nil
}

// resolveOwnerNames finds the usernames of the bot owners, in one lookup
// for the owners who wrote no captured post. A failure only leaves names
// out (the page shows the id): the owner id is what the content binds.
func (c *Client) resolveOwnerNames(ctx context.Context, res *authors) {
	var missing []string
	for _, a := range res.byID {
		if a.ownerID == "" {
			continue
		}
		if o := res.byID[a.ownerID]; o != nil {
			a.ownerName = o.username
		} else {
			missing = append(missing, a.ownerID)
		}
	}
	if len(missing) == 0 {
		return
	}
	users, err := c.getUsers(ctx, distinctIDs(missing))
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "mattermost: bot owners' usernames not readable", slog.String("error", err.Error()))
		return
	}
	for _, a := range res.byID {
		if u := users[a.ownerID]; u != nil && a.ownerName == "" {
			a.ownerName = u.Username
		}
	}
}

// resolveOwners reads the bot record of each bot author for its owner, a
// few at a time (Mattermost has no batch lookup of bots).
func (c *Client) resolveOwners(ctx context.Context, res *authors, botIDs []string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, c.cfg.Concurrency)
	for _, id := range botIDs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			owner, warning, err := c.resolveOwner(ctx, id, res.byID[id].username)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				return
			}
			res.byID[id].ownerID = owner
			if warning != "" {
				res.warnings = append(res.warnings, warning)
			}
		}()
	}
	wg.Wait()
	slices.Sort(res.warnings)
	return firstErr
}

// resolveOwner reads one bot's owner; an unreadable record is a warning,
// not a failure.
func (c *Client) resolveOwner(ctx context.Context, userID, username string) (owner, warning string, err error) {
	b, err := c.getBot(ctx, userID)
	switch {
	case err == nil:
		return b.OwnerId, "", nil
	case errors.Is(err, models.ErrNotFound), errors.Is(err, models.ErrForbidden):
		c.log.LogAttrs(ctx, slog.LevelWarn, "mattermost: bot owner not readable", slog.String("bot_user_id", userID))
		return "", fmt.Sprintf("owner of bot @%s (%s) unknown: the Countersign bot may not read bot records (grant it read_others_bots)", username, userID), nil
	default:
		return "", "", fmt.Errorf("resolve owner of bot %s: %w", userID, err)
	}
}

// distinctIDs returns the non-empty ids of a list, each once, sorted.
func distinctIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
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
		PostSnapshot: models.PostSnapshot{
			PostID:        p.Id,
			RootID:        p.RootId,
			AuthorID:      p.UserId,
			AuthorName:    a.username,
			ChannelMember: a.member,
			Message:       clipMessage(p.Message, c.cfg.MaxMessageBytes),
			CreateAt:      p.CreateAt,
			EditAt:        p.EditAt,
		},
		DeleteAt: p.DeleteAt,
	}
	cp.FromWebhook, cp.OverrideUsername = webhookProps(p)
	if a.isBot {
		cp.BotOwnerID, cp.BotOwnerName = a.ownerID, a.ownerName
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

// FromWebhook reports whether an incoming webhook made p, by the same
// reading of from_webhook as every capture (webhookProps): a string
// "true" or a boolean true.
func FromWebhook(p *model.Post) bool {
	from, _ := webhookProps(p)
	return from
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
