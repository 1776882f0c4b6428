package main

import (
	"context"
	"slices"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/outbox"
	"github.com/countersign/countersign/models/policy"
)

// TestChatFollowUpWiring: reminders reach chat only with the bot
// configured, and the directory asks the policy in force (and follows its
// reloads) plus the static list.
func TestChatFollowUpWiring(t *testing.T) {
	var cfg Config
	if chatReminders(cfg) != nil {
		t.Fatal("reminders go to chat without a bot")
	}
	cfg.Mattermost.SiteURL, cfg.Mattermost.Messages.BotToken = "https://chat.example.com", "tok"
	cfg.Mattermost.Messages.Approvers = []string{"@Zed"}
	if _, ok := chatReminders(cfg).(outbox.Reminders); !ok {
		t.Fatalf("reminders with a bot: %T", chatReminders(cfg))
	}

	rt := &policyRuntime{holder: policy.NewHolder(nil)}
	dir := chatDirectory(cfg, rt)
	r := &models.Request{ID: "REQ-1", RequesterType: models.ActorHuman, RequesterName: "carol"}
	r.ApproverRoles = models.Words{"sre"}
	if got, err := dir.ApproverUsernames(context.Background(), r); err != nil || !slices.Equal(got, []string{"zed"}) {
		t.Fatalf("no policy loaded: %v %v", got, err)
	}
	p, err := policy.Parse("p.yaml", []byte(`version: 1
roles:
  sre: {idp_groups: [sre], mattermost_users: [alice, carol]}
actions:
  - {name: restart, executor: kube}
rules:
  - {name: all, when: "true", require: {approvals: 1, roles: [sre]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	rt.holder.Swap(p)
	got, err := dir.ApproverUsernames(context.Background(), r)
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"alice", "zed"}) {
		t.Fatalf("policy loaded: %v %v (want alice and zed, never the requester carol)", got, err)
	}
}
