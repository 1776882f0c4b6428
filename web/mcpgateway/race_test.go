package mcpgateway_test

import (
	"strings"
	"sync"
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

// TestIdenticalCallsAtOnceOpenOneRequest: an agent's identical calls made
// at the same moment through two gateways on two stores of one database
// (replicas), before any request exists, are one request for approvers:
// every call is told the same request, the chat shows one proposal that
// opened it and every other proposal marked with the request that carries
// the call; once approved, the action runs once.
func TestIdenticalCallsAtOnceOpenOneRequest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		fake := mmfake.New(t)
		admin := fake.AddAdmin("root")
		bot := fake.AddBot("countersign", admin.Id)
		team := fake.NewTeam("ops")
		ch := fake.NewChannel(team.Id, "incidents", model.ChannelTypeOpen, bot.Id)
		client, err := mattermost.New(mattermost.Config{SiteURL: fake.URL(), BotToken: fake.NewToken(bot.Id)})
		if err != nil {
			t.Fatal(err)
		}
		proposer := &mcpgateway.ChatProposer{Chat: client, ChannelID: ch.Id}
		r := newRig(t, b.Open(t), holdFor(300*time.Millisecond), func(r *rig) { r.proposer = proposer })
		other := newRig(t, b.Open(t), holdFor(300*time.Millisecond), func(o *rig) {
			o.proposer, o.ops, o.upstream = proposer, r.ops, r.upstream
		})
		const callers = 6
		sessions := make([]*mcp.ClientSession, callers)
		for i := range sessions {
			g := r
			if i%2 == 1 {
				g = other
			}
			sessions[i] = g.connect("deploy-bot")
		}
		ids := make([]string, callers)
		states := make([]string, callers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, cs := range sessions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: mcpexample.ToolRestart, Arguments: restartArgs("api", "prod")})
				if err != nil {
					states[i] = "client error: " + err.Error()
					return
				}
				states[i], ids[i] = status(res)
			}()
		}
		close(start)
		wg.Wait()
		for i := range ids {
			if states[i] != "pending_approval" || ids[i] == "" || ids[i] != ids[0] {
				t.Fatalf("calls answered %v %v, want one pending request", states, ids)
			}
		}
		var requests int64
		if err := r.store.DB(t.Context()).Model(&models.Request{}).Count(&requests).Error; err != nil || requests != 1 {
			t.Fatalf("%d requests stored (%v)", requests, err)
		}
		// One proposal per call that posted; every one but the request's
		// own is marked with the request that carries the call.
		req := r.request(ids[0])
		var proposals, superseded int
		for _, p := range fake.Posts() {
			if p.UserId != bot.Id || !strings.Contains(p.Message, "called an MCP tool") {
				continue
			}
			proposals++
			marked := strings.Contains(p.Message, "Superseded:")
			if marked {
				superseded++
				if !strings.Contains(strings.ReplaceAll(p.Message, `\`, ""), req.ID) {
					t.Fatalf("a superseded proposal does not name %s: %s", req.ID, p.Message)
				}
			}
			if marked == (p.Id == req.TriggerPostID) {
				t.Fatalf("proposal %s (the request's own: %v) marked superseded: %v", p.Id, p.Id == req.TriggerPostID, marked)
			}
		}
		t.Logf("%d proposals posted, %d marked superseded", proposals, superseded)
		if proposals == 0 || proposals-superseded != 1 {
			t.Fatalf("%d proposals, %d marked superseded: want one proposal left standing", proposals, superseded)
		}
		r.approve(ids[0])
		res := other.call(sessions[1], mcpexample.ToolRestart, restartArgs("api", "prod"), nil)
		if st, rid := status(res); res.IsError || st != "executed" || rid != ids[0] {
			t.Fatalf("resumed after approval: %q %q %s", st, rid, text(res))
		}
		if n := r.ops.Restarts("api", "prod"); n != 1 {
			t.Fatalf("ran %d times", n)
		}
	})
}
