package handlers

import (
	"context"
	"log/slog"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/web/mattermost"
)

// ConversationRechecker reads a request's conversation again when someone
// decides (*mattermost.Rechecker implements it). When captured posts were
// edited or deleted it moves the request's content hash, so a decision
// bound to the old content is refused and the approver reviews again.
type ConversationRechecker interface {
	Recheck(ctx context.Context, id string, actor models.Actor) (mattermost.RecheckResult, error)
}

// recheck re-reads the conversation of request id when a rechecker is
// configured. It reports whether chat could not be read (the decision
// then goes ahead on the capture, and the person is told so). It runs
// outside any transaction, bounded by the rechecker's timeout.
func (h *Decisions) recheck(c echo.Context, id string, actor models.Actor) (unchecked bool, err error) {
	if h.rechecker == nil {
		return false, nil
	}
	res, err := h.rechecker.Recheck(c.Request().Context(), id, actor)
	if err != nil {
		return false, err
	}
	if res.ContentChanged {
		logEvent(h.log, c, slog.LevelInfo, "conversation changed since capture", slog.String("request", id))
	}
	return res.Unavailable, nil
}
