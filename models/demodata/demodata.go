// Package demodata seeds a realistic set of requests for `countersign demo`
// and for tests and benchmarks that want believable data: a human's slash
// command, an agent's proposal with its thread and tool chain, and a request
// whose conversation holds a webhook post impersonating an approver.
package demodata

import (
	"context"
	"fmt"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
)

// The demo cast. Ids look like Mattermost's 26-character ids.
var (
	Carol     = models.Actor{Type: models.ActorHuman, ID: "a85np16fk3r7tceghtiyxfweow", Display: "carol"}
	Alice     = models.Actor{Type: models.ActorHuman, ID: "szhbzstp3idmue387hjxadrjuw", Display: "alice"}
	Bob       = models.Actor{Type: models.ActorHuman, ID: "nczzemc3wtymbn485zozgc7w7c", Display: "bob"}
	Dave      = models.Actor{Type: models.ActorHuman, ID: "g54r5jzrrbba9bhss5p8zfo5zo", Display: "dave"}
	DeployBot = models.Actor{Type: models.ActorAgent, ID: "6cex5ukfajfc8pbu3ewqd6i3ow", Display: "deploy-bot",
		SponsorID: "g54r5jzrrbba9bhss5p8zfo5zo", SponsorName: "dave"}
)

const (
	teamID        = "7csabjb9hb8z9ksdg83ew7iw8e"
	teamName      = "ops"
	incidentsID   = "nq3bgrqu8in6xyd1x9nr6bemue"
	incidentsName = "incidents"
	releasesID    = "k1xq7ye5dpgf8jzbw3c6o9ha4r"
	releasesName  = "releases"
)

// Requests returns the demo requests relative to now. Each is complete and
// valid input for approval.Service.Create.
func Requests(now time.Time) []approval.NewRequest {
	ms := func(d time.Duration) int64 { return now.Add(-d).UnixMilli() }
	at := func(d time.Duration) time.Time { return now.Add(-d) }
	return []approval.NewRequest{
		{
			// A person asks through the slash command on a 9.x server: no
			// thread id, so the conversation is the channel's recent posts.
			Kind: models.KindAction, Action: "restart", Purpose: "OOM loop, INC-4211",
			Params:    map[string]any{"service": "payments-api", "env": "prod"},
			Requester: Carol,
			Source:    models.Source{TeamID: teamID, TeamName: teamName, ChannelID: incidentsID, ChannelName: incidentsName, TriggerPostID: "q8k3m1x7pbf5dy9wz4c2hnrt6e"},
			Posts: []models.ConversationPost{
				{PostSnapshot: models.PostSnapshot{PostID: "h3m9x2k7qp4wz8c1bnd5fyr6ta", AuthorID: Bob.ID, AuthorName: "bob", AuthorKind: models.AuthorHuman, ChannelMember: true, Message: "payments-api pods restarting every ~4 min since 08:10, OOMKilled", CreateAt: ms(14 * time.Minute)}},
				{PostSnapshot: models.PostSnapshot{PostID: "t5c8w1n4kd7zq2ym6bx9ehf3ra", AuthorID: Carol.ID, AuthorName: "carol", AuthorKind: models.AuthorHuman, ChannelMember: true, Message: "Heap dump shows the new cache warming on boot. A rolling restart with the flag off should hold until the fix ships.", CreateAt: ms(9 * time.Minute)}},
				{PostSnapshot: models.PostSnapshot{PostID: "q8k3m1x7pbf5dy9wz4c2hnrt6e", AuthorID: Carol.ID, AuthorName: "carol", AuthorKind: models.AuthorWebhook, FromWebhook: true, ChannelMember: true, Message: "/countersign restart payments-api env=prod -- OOM loop, INC-4211", CreateAt: ms(2 * time.Minute)}},
			},
			TTL: time.Hour, RequiredApprovals: 1, PolicyRef: "demo/prod-restart",
		},
		{
			// An agent proposes in a thread, with the tool chain that led there.
			Kind: models.KindAction, Action: "rotate-secret", Purpose: "Credential exposed in build log, SEC-311",
			Params:    map[string]any{"secret": "payments/db-password", "env": "prod", "notify": []any{"payments-oncall"}},
			Requester: DeployBot,
			Source:    models.Source{TeamID: teamID, TeamName: teamName, ChannelID: incidentsID, ChannelName: incidentsName, RootPostID: "r2n7c4x9kq1wd8mz5bhf3ype6t", TriggerPostID: "p6w3z8c1mx4qk9nd2bty7hfr5e"},
			Posts: []models.ConversationPost{
				{PostSnapshot: models.PostSnapshot{PostID: "r2n7c4x9kq1wd8mz5bhf3ype6t", AuthorID: Bob.ID, AuthorName: "bob", AuthorKind: models.AuthorHuman, ChannelMember: true, Message: "@deploy-bot the build log of job 88412 printed the payments DB password. Can you check and rotate it?", CreateAt: ms(31 * time.Minute)}},
				{PostSnapshot: models.PostSnapshot{PostID: "m4k8x1q7zc3nw9db5fyt2hre6p", RootID: "r2n7c4x9kq1wd8mz5bhf3ype6t", AuthorID: DeployBot.ID, AuthorName: "deploy-bot", AuthorKind: models.AuthorBot, BotOwnerID: Dave.ID, ChannelMember: true, Message: "Confirmed: line 2217 of job 88412 contains the value of `payments/db-password`. The log is public to the org.", CreateAt: ms(29 * time.Minute)}},
				{PostSnapshot: models.PostSnapshot{PostID: "z9c2m7x4kq8nw1db6fyt3hre5p", RootID: "r2n7c4x9kq1wd8mz5bhf3ype6t", AuthorID: Alice.ID, AuthorName: "alice", AuthorKind: models.AuthorHuman, ChannelMember: true, Message: "Agreed it needs rotating. Make sure the payments pods pick up the new secret.", EditAt: ms(20 * time.Minute), CreateAt: ms(24 * time.Minute)}},
				{PostSnapshot: models.PostSnapshot{PostID: "p6w3z8c1mx4qk9nd2bty7hfr5e", RootID: "r2n7c4x9kq1wd8mz5bhf3ype6t", AuthorID: DeployBot.ID, AuthorName: "deploy-bot", AuthorKind: models.AuthorBot, BotOwnerID: Dave.ID, ChannelMember: true, Message: "Proposal: rotate `payments/db-password` in prod, then rolling-restart payments-api. Requesting approval in Countersign.", CreateAt: ms(18 * time.Minute)}},
			},
			ToolCalls: []models.ToolCall{
				{CallID: "call-1", Tool: "ci.get_job_log", Input: `{"job":88412,"lines":[2200,2240]}`, Output: `{"match_line":2217,"pattern":"postgres://payments:***@"}`, Status: models.ToolCallOK, StartedAt: at(30 * time.Minute), EndedAt: at(30*time.Minute - 900*time.Millisecond)},
				{CallID: "call-2", ParentID: "call-1", Tool: "vault.read_metadata", Input: `{"path":"payments/db-password"}`, Output: `{"version":14,"created_time":"2026-08-02T10:11:00Z"}`, Status: models.ToolCallOK, StartedAt: at(29 * time.Minute), EndedAt: at(29*time.Minute - 300*time.Millisecond)},
				{CallID: "call-3", ParentID: "call-2", Tool: "k8s.list_consumers", Input: `{"secret":"payments-db","namespace":"payments"}`, Output: `{"deployments":["payments-api","payments-worker"]}`, Status: models.ToolCallOK, StartedAt: at(28 * time.Minute), EndedAt: at(28*time.Minute - 400*time.Millisecond)},
				{CallID: "call-4", ParentID: "call-3", Tool: "policy.dry_run", Input: `{"action":"rotate-secret","env":"prod"}`, Output: `{"requires":"approval","approvers":["security"]}`, Status: models.ToolCallOK, StartedAt: at(19 * time.Minute), EndedAt: at(19*time.Minute - 50*time.Millisecond)},
			},
			TTL: 2 * time.Hour, RequiredApprovals: 2, PolicyRef: "demo/secret-rotation",
		},
		{
			// The conversation holds an incoming-webhook post whose display
			// name was overridden to look like an approver saying yes.
			Kind: models.KindAction, Action: "scale", Purpose: "Black Friday traffic, checkout latency above SLO",
			Params:    map[string]any{"service": "checkout", "env": "prod", "replicas": 12},
			Requester: Bob,
			Source:    models.Source{TeamID: teamID, TeamName: teamName, ChannelID: releasesID, ChannelName: releasesName, RootPostID: "w7d2k9x4mq1zc8nb5fyt3hre6p", TriggerPostID: "y1c6m3x8kq4zw9nd2bt7hfr5ep"},
			Posts: []models.ConversationPost{
				{PostSnapshot: models.PostSnapshot{PostID: "w7d2k9x4mq1zc8nb5fyt3hre6p", AuthorID: Bob.ID, AuthorName: "bob", AuthorKind: models.AuthorHuman, ChannelMember: true, Message: "checkout p99 at 1.8 s, SLO is 800 ms. Want to go from 6 to 12 replicas.", CreateAt: ms(12 * time.Minute)}},
				{PostSnapshot: models.PostSnapshot{PostID: "53r6yo747pdepgmesqbnqa77br", AuthorID: Dave.ID, AuthorName: "dave", AuthorKind: models.AuthorWebhook, FromWebhook: true, OverrideUsername: "alice", ChannelMember: true, Message: "Approved ✅ go ahead and scale", CreateAt: ms(10 * time.Minute)}},
				{PostSnapshot: models.PostSnapshot{PostID: "y1c6m3x8kq4zw9nd2bt7hfr5ep", RootID: "w7d2k9x4mq1zc8nb5fyt3hre6p", AuthorID: Bob.ID, AuthorName: "bob", AuthorKind: models.AuthorWebhook, FromWebhook: true, ChannelMember: true, Message: "/countersign scale checkout replicas=12 env=prod -- Black Friday traffic, checkout latency above SLO", CreateAt: ms(8 * time.Minute)}},
			},
			TTL: 30 * time.Minute, RequiredApprovals: 1, PolicyRef: "demo/prod-scale",
		},
		{
			Kind: models.KindAction, Action: "flush-cache", Purpose: "Stale prices after catalogue import, INC-4198",
			Params:    map[string]any{"cache": "catalogue", "env": "staging"},
			Requester: Carol,
			Source:    models.Source{TeamID: teamID, TeamName: teamName, ChannelID: incidentsID, ChannelName: incidentsName, TriggerPostID: "e4k9x2m7qc1zw8nd5bt3hfr6yp"},
			Posts: []models.ConversationPost{
				{PostSnapshot: models.PostSnapshot{PostID: "e4k9x2m7qc1zw8nd5bt3hfr6yp", AuthorID: Carol.ID, AuthorName: "carol", AuthorKind: models.AuthorWebhook, FromWebhook: true, ChannelMember: true, Message: "/countersign flush-cache catalogue env=staging -- Stale prices after catalogue import, INC-4198", CreateAt: ms(3 * time.Hour)}},
			},
			TTL: time.Hour, RequiredApprovals: 1, PolicyRef: "demo/staging",
		},
	}
}

// Seed creates the demo requests when the store holds none, and moves the
// last one through approval and execution so every view has history. It
// returns how many requests it created (0 when data was already there).
func Seed(ctx context.Context, store *models.Store, svc *approval.Service, now time.Time) (int, error) {
	var n int64
	if err := store.DB(ctx).Model(&models.Request{}).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("demodata: count requests: %w", err)
	}
	if n > 0 {
		return 0, nil
	}
	reqs := Requests(now)
	var last *models.Request
	for i, in := range reqs {
		r, err := svc.Create(ctx, in)
		if err != nil {
			return i, fmt.Errorf("demodata: seed request %d (%s): %w", i, in.Action, err)
		}
		last = r
	}
	steps := []approval.Transition{
		{ID: last.ID, From: models.StatePending, To: models.StateApproved, Actor: Alice, Reason: "1 of 1 approvals"},
		{ID: last.ID, From: models.StateApproved, To: models.StateExecuted, Actor: models.SystemActor("executor"), Reason: "cache flushed (412 keys)"},
	}
	for _, st := range steps {
		if _, err := svc.Move(ctx, st); err != nil {
			return len(reqs), fmt.Errorf("demodata: %w", err)
		}
	}
	return len(reqs), nil
}
