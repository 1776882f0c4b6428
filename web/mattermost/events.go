package mattermost

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mattermost/mattermost/server/public/model"
)

// DialWebSocket opens the bot's WebSocket connection to Mattermost (the
// same API the web app uses for live events: posted, post_edited,
// post_deleted for the channels the bot belongs to). The caller must call
// Listen on it and read its channels, and Close it when done. The bot
// token stays inside the client: it is sent as the authentication
// challenge, never logged.
func (c *Client) DialWebSocket(ctx context.Context) (*model.WebSocketClient, error) {
	u := c.site.String()
	switch {
	case strings.HasPrefix(u, "https://"):
		u = "wss://" + strings.TrimPrefix(u, "https://")
	case strings.HasPrefix(u, "http://"):
		u = "ws://" + strings.TrimPrefix(u, "http://")
	}
	dialer := &websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: c.cfg.CallTimeout}
	if t, ok := c.cfg.HTTPClient.Transport.(*http.Transport); ok && t.TLSClientConfig != nil {
		dialer.TLSClientConfig = t.TLSClientConfig.Clone()
		// The WebSocket handshake is HTTP/1.1; an h2 offer copied from the
		// REST transport would make the server answer in HTTP/2.
		dialer.TLSClientConfig.NextProtos = nil
	}
	type dialed struct {
		ws  *model.WebSocketClient
		err error
	}
	done := make(chan dialed, 1)
	go func() {
		ws, err := model.NewWebSocketClient4WithDialer(dialer, u, c.cfg.BotToken)
		done <- dialed{ws, err}
	}()
	select {
	case d := <-done:
		if d.err != nil {
			return nil, fmt.Errorf("mattermost: open WebSocket: %w", d.err)
		}
		return d.ws, nil
	case <-ctx.Done():
		go func() {
			if d := <-done; d.ws != nil {
				d.ws.Close()
			}
		}()
		return nil, fmt.Errorf("mattermost: open WebSocket: %w", ctx.Err())
	}
}

// BotChannels lists the channels the bot belongs to, in every team it is
// in (direct and group messages included): the channels whose events its
// WebSocket receives.
func (c *Client) BotChannels(ctx context.Context) ([]string, error) {
	me, err := c.BotUserID(ctx)
	if err != nil {
		return nil, err
	}
	var teams []*model.Team
	err = c.call(ctx, "get teams of the bot", func(ctx context.Context) (r *model.Response, err error) {
		teams, r, err = c.api.GetTeamsForUser(ctx, me, "")
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("mattermost: %w", err)
	}
	seen := map[string]bool{}
	var out []string
	for _, t := range teams {
		var chans []*model.Channel
		err := c.call(ctx, "get channels of the bot in team "+t.Id, func(ctx context.Context) (r *model.Response, err error) {
			chans, r, err = c.api.GetChannelsForTeamForUser(ctx, t.Id, me, false, "")
			return r, err
		})
		if err != nil {
			return nil, fmt.Errorf("mattermost: %w", err)
		}
		for _, ch := range chans {
			if !seen[ch.Id] {
				seen[ch.Id] = true
				out = append(out, ch.Id)
			}
		}
	}
	return out, nil
}

// PostsSince returns the posts of a channel created, edited or deleted
// after since, oldest first.
func (c *Client) PostsSince(ctx context.Context, channelID string, since time.Time) ([]*model.Post, error) {
	l, err := c.getChannelSince(ctx, channelID, since.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("mattermost: %w", err)
	}
	out := make([]*model.Post, 0, len(l.Posts))
	for _, p := range l.Posts {
		out = append(out, p)
	}
	sortPosts(out)
	return out, nil
}
