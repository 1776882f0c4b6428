package handlers_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/handlers"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/policy"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/mattermost"
	"github.com/countersign/countersign/web/mattermost/mmfake"
)

// TestMentionAnsweredAgainMakesNoSecondRequest: a mention run a second
// time (a replica that crashed after storing the request, before marking
// the mention answered, leaves it to be answered again) answers with the
// request the first run made; nothing new is stored. The mention is the
// request's trigger and its thread is what was captured.
func TestMentionAnsweredAgainMakesNoSecondRequest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		fake, _, client := newFakeChat(t, nil)
		s := b.Open(t)
		holder := policy.NewHolder(testPolicy(t))
		svc := approval.New(s, approval.Config{Policy: holder})
		cmds := handlers.NewChatCommands(client, svc, handlers.MattermostCommandOptions{PublicURL: "https://cs.example.com", Policy: holder})
		m := fake.AddPost(&model.Post{ChannelId: mmfake.ChannelID, RootId: mmfake.RootPostID, UserId: mmfake.AliceID, Message: "@countersign restart payments-api env=prod -- OOM"})
		call := mattermost.CommandCall{UserID: mmfake.AliceID, ChannelID: mmfake.ChannelID, RootID: mmfake.RootPostID, PostID: m.Id, Text: "restart payments-api env=prod -- OOM"}
		first := cmds.Run(context.Background(), call)
		if first.RequestID == "" {
			t.Fatalf("first run made no request: %q", first.Text)
		}
		r, err := svc.Get(context.Background(), first.RequestID)
		if err != nil || r.TriggerPostID != m.Id || r.RootPostID != mmfake.RootPostID {
			t.Fatalf("request %+v, %v: want the mention as trigger and its thread", r, err)
		}
		again := cmds.Run(context.Background(), call)
		if again.RequestID != first.RequestID || !strings.Contains(again.Text, "already made from this post") {
			t.Fatalf("second run: %+v, want the first request %s", again, first.RequestID)
		}
		var n int64
		if err := s.DB(context.Background()).Table("requests").Count(&n).Error; err != nil || n != 1 {
			t.Fatalf("%d requests stored, want 1 (%v)", n, err)
		}
	})
}
