package handlers

import (
	"context"
	"fmt"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/templates/partials"
)

// chatUncheckedNote is shown after a decision made while Mattermost could
// not be read.
const chatUncheckedNote = "Mattermost could not be reached when you decided, so the conversation was not read again: your decision was made on the conversation as captured."

// conversationHistoryViews loads the revisions and later discussion of r.
func (h *Requests) conversationHistoryViews(ctx context.Context, r *models.Request, now time.Time) ([]partials.Revision, []partials.LaterPost, error) {
	revs, err := h.svc.Revisions(ctx, r.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("request page: %w", err)
	}
	later, err := h.svc.LaterDiscussion(ctx, r.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("request page: %w", err)
	}
	rv := make([]partials.Revision, 0, len(revs))
	for _, v := range revs {
		rv = append(rv, partials.Revision{PostID: v.PostID, OldMessage: v.OldMessage, NewMessage: v.NewMessage, Deleted: v.Deleted, DetectedAt: timeView(v.DetectedAt, now)})
	}
	lv := make([]partials.LaterPost, 0, len(later))
	for _, p := range later {
		author := p.AuthorName
		if p.AuthorKind == models.AuthorWebhook && p.OverrideUsername != "" {
			author = fmt.Sprintf("%s (shown as %q)", p.AuthorName, p.OverrideUsername)
		}
		lv = append(lv, partials.LaterPost{PostID: p.PostID, Author: author, Kind: string(p.AuthorKind), Message: p.Message})
	}
	return rv, lv, nil
}
