package listen

import (
	"context"
	"log/slog"
	"time"
)

// catchUp reads the posts of the bot's channels created, edited or
// deleted since since and handles them as if their events had arrived:
// what happened while the WebSocket was down is acted on now. Mentions
// already answered are skipped by their claims; re-checks that find
// nothing new record nothing.
func (l *Listener) catchUp(ctx context.Context, since time.Time) {
	channels, err := l.cfg.Client.BotChannels(ctx)
	if err != nil {
		l.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "mattermost websocket: catch-up: list channels", slog.String("error", err.Error()))
		return
	}
	for _, ch := range channels {
		posts, err := l.cfg.Client.PostsSince(ctx, ch, since)
		if err != nil {
			l.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "mattermost websocket: catch-up: read channel", slog.String("channel_id", ch), slog.String("error", err.Error()))
			continue
		}
		for _, p := range posts {
			if ctx.Err() != nil {
				return
			}
			if l.cfg.Commands != nil && p.CreateAt >= since.UnixMilli() && p.DeleteAt == 0 {
				l.mention(ctx, p)
			}
			if l.cfg.Rechecks != nil && (p.EditAt >= since.UnixMilli() || p.DeleteAt != 0) {
				l.changed(ctx, p)
			}
		}
	}
}
