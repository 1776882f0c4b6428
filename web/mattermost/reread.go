package mattermost

import (
	"context"

	"github.com/countersign/countersign/models"
)

// Rereader reads a request's conversation again, through the bot, when
// someone is about to decide; it implements approval.ConversationReader.
// What changed is recorded by the approval service, not here.
type Rereader struct {
	client *Client
}

// NewRereader returns a Rereader on client.
func NewRereader(client *Client) *Rereader { return &Rereader{client: client} }

// Reread recaptures r's live captured posts (those not already known to
// be deleted), leaving Countersign's own posts out, and reports the edited
// and deleted ones as they read now and the posts written since.
func (rr *Rereader) Reread(ctx context.Context, r *models.Request) (*models.Reread, error) {
	me, err := rr.client.BotUserID(ctx)
	if err != nil {
		return nil, err
	}
	live := make([]models.ConversationPost, 0, len(r.Posts))
	for _, p := range r.Posts {
		if p.DeleteAt == 0 {
			live = append(live, p)
		}
	}
	diff, err := rr.client.Recapture(ctx, live, RecaptureRequest{RootPostID: r.RootPostID, ChannelID: r.ChannelID, ExcludeUserIDs: []string{me}})
	if err != nil {
		return nil, err
	}
	out := &models.Reread{Later: diff.Added}
	for _, p := range diff.Posts {
		switch p.Change {
		case Deleted:
			out.Changed = append(out.Changed, models.PostChange{PostID: p.PostID, Deleted: true})
		case Edited:
			out.Changed = append(out.Changed, models.PostChange{
				PostID: p.PostID, Message: p.Current.Message, EditAt: p.Current.EditAt,
				FromWebhook: p.Current.FromWebhook, OverrideUsername: p.Current.OverrideUsername,
			})
		}
	}
	return out, nil
}
