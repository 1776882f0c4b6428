package mattermost

import (
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
)

// TestFromWebhook: from_webhook counts as Mattermost stores it (the string
// "true") and as a boolean, so a post cannot hide its webhook origin by
// the prop's type; anything else is not a webhook post.
func TestFromWebhook(t *testing.T) {
	for _, tc := range []struct {
		prop any
		want bool
	}{{"true", true}, {true, true}, {"false", false}, {false, false}, {nil, false}, {"yes", false}} {
		p := &model.Post{}
		if tc.prop != nil {
			p.AddProp(model.PostPropsFromWebhook, tc.prop)
		}
		if got := FromWebhook(p); got != tc.want {
			t.Errorf("from_webhook %#v: %v, want %v", tc.prop, got, tc.want)
		}
	}
}
