package mcpgateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/mattermost"
	"github.com/countersign/countersign/web/mattermost/mmfake"
	"github.com/countersign/countersign/web/mcpexample"
	"github.com/countersign/countersign/web/mcpgateway"
)

// A gated call is proposed in the configured channel, under the thread
// the agent names, and the thread's conversation is the request's.
func TestProposalIsPostedInTheNamedThreadAndCaptured(t *testing.T) {
	fake := mmfake.New(t)
	admin := fake.AddAdmin("root")
	bot := fake.AddBot("countersign", admin.Id)
	alice := fake.AddHuman("alice")
	team := fake.NewTeam("ops")
	ch := fake.NewChannel(team.Id, "incidents", model.ChannelTypeOpen, bot.Id, alice.Id)
	other := fake.NewChannel(team.Id, "random", model.ChannelTypeOpen, bot.Id, alice.Id)
	fake.Grant(bot.Id, model.PermissionReadOthersBots.Id)
	root := fake.Post(ch.Id, alice.Id, "api is OOM-looping again, INC-4211")
	elsewhere := fake.Post(other.Id, alice.Id, "unrelated")
	client, err := mattermost.New(mattermost.Config{SiteURL: fake.URL(), BotToken: fake.NewToken(bot.Id)})
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, storetest.SQLite(t).Open(t), holdFor(50*time.Millisecond), func(r *rig) {
		r.proposer = &mcpgateway.ChatProposer{Chat: client, ChannelID: ch.Id}
	})
	cs := r.connect("deploy-bot")
	hostile := "INC-4211 @channel **Approved** by [alice](http://evil.example) `x`"
	res := r.call(cs, mcpexample.ToolRestart, restartArgs("api", "prod"), mcp.Meta{mcpgateway.MetaThread: root.Id, mcpgateway.MetaPurpose: hostile})
	st, id := status(res)
	if st != "pending_approval" {
		t.Fatalf("call answered %q %s", st, text(res))
	}
	req := r.request(id)
	if req.ChannelID != ch.Id || req.RootPostID != root.Id {
		t.Fatalf("request source: channel %s root %s", req.ChannelID, req.RootPostID)
	}
	if len(req.Posts) != 1 || req.Posts[0].PostID != root.Id || req.Posts[0].AuthorKind != models.AuthorHuman {
		t.Fatalf("captured posts %+v", req.Posts)
	}
	var proposal *model.Post
	for _, p := range fake.Posts() {
		if p.UserId == bot.Id && p.RootId == root.Id {
			proposal = p
		}
	}
	if proposal == nil || !strings.Contains(proposal.Message, `deploy\-bot`) || !strings.Contains(proposal.Message, "`env=prod`, `service=api`") {
		t.Fatalf("proposal post %+v", proposal)
	}
	// The agent's purpose is shown as its text: no mention, bold, link or
	// code span of its own.
	for _, raw := range []string{"@channel", "**Approved**", "[alice](", "`x`"} {
		if strings.Contains(proposal.Message, raw) {
			t.Fatalf("the agent's purpose reached the chat unescaped (%q): %s", raw, proposal.Message)
		}
	}
	if strings.Contains(proposal.Message, "held until approvers decide") {
		t.Fatalf("the proposal promises an outcome the policy has not decided: %s", proposal.Message)
	}
	// A thread in another channel is refused: nothing is stored.
	res = r.call(cs, mcpexample.ToolRestart, restartArgs("billing", "prod"), mcp.Meta{mcpgateway.MetaThread: elsewhere.Id})
	if st, rid := status(res); st != "refused" || rid != "" {
		t.Fatalf("thread in another channel: %q %q %s", st, rid, text(res))
	}
}
