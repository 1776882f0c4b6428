package listen

import (
	"encoding/json"

	"github.com/mattermost/mattermost/server/public/model"
)

// eventPost decodes the post of a posted, post_edited or post_deleted
// event (Mattermost sends it as a JSON string); nil when it has none.
func eventPost(ev *model.WebSocketEvent) *model.Post {
	raw, ok := ev.GetData()["post"].(string)
	if !ok || raw == "" {
		return nil
	}
	var p model.Post
	if err := json.Unmarshal([]byte(raw), &p); err != nil || p.Id == "" {
		return nil
	}
	return &p
}
