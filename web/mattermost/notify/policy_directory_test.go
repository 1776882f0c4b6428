package notify_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/policy"
	"github.com/countersign/countersign/web/mattermost/notify"
)

const directoryPolicy = `version: 1
roles:
  sre:       {idp_groups: [sre], mattermost_users: [alice, "@Bob"]}
  dba:       {idp_groups: [dba], mattermost_users: [erin, alice]}
  security:  {idp_groups: [security], mattermost_users: [mallory, dave]}
  leads:     {idp_groups: [leads]}
  approver:  {idp_groups: [approvers], mattermost_users: [frank]}
actions:
  - {name: restart, executor: kube}
rules:
  - {name: all, when: "true", require: {approvals: 1, roles: [sre, dba, security, leads, approver]}}
`

func TestPolicyDirectoryPicksPeopleByTheRequestsRoles(t *testing.T) {
	p, err := policy.Parse("p.yaml", []byte(directoryPolicy))
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	now := created.Add(10 * time.Minute)
	holder := policy.NewHolder(p)
	dir := notify.PolicyApprovers{Policy: holder, Static: notify.StaticApprovers{"@Zed", "carol"}, DefaultRoles: []string{"approver"}, Now: func() time.Time { return now }}
	human := func(roles ...string) *models.Request {
		r := &models.Request{ID: "REQ-1", RequesterType: models.ActorHuman, RequesterID: "u-carol", RequesterName: "carol", CreatedAt: created}
		r.ApproverRoles = roles
		return r
	}
	escalating := human("sre")
	escalating.EscalateRoles, escalating.EscalateAfter = models.Words{"security"}, 30*time.Minute
	agent := human("security")
	agent.RequesterType, agent.RequesterName, agent.SponsorName = models.ActorAgent, "deploy-bot", "dave"

	ctx := context.Background()
	for _, c := range []struct {
		name string
		r    *models.Request
		at   time.Duration // since creation
		want []string
	}{
		{"sre request", human("sre"), 10 * time.Minute, []string{"alice", "bob", "zed"}},
		{"dba request", human("dba"), 10 * time.Minute, []string{"alice", "erin", "zed"}},
		{"two roles, one person in both", human("sre", "dba"), 10 * time.Minute, []string{"alice", "bob", "erin", "zed"}},
		{"a role held only through IdP groups", human("leads"), 10 * time.Minute, []string{"zed"}},
		{"no roles on the request: the default roles", human(), 10 * time.Minute, []string{"frank", "zed"}},
		{"before the escalation time", escalating, 29 * time.Minute, []string{"alice", "bob", "zed"}},
		{"after the escalation time", escalating, 30 * time.Minute, []string{"alice", "bob", "dave", "mallory", "zed"}},
		{"an agent's sponsor is never asked", agent, 10 * time.Minute, []string{"carol", "mallory", "zed"}},
	} {
		now = created.Add(c.at)
		got, err := dir.ApproverUsernames(ctx, c.r)
		slices.Sort(got)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: %v %v, want %v", c.name, got, err, c.want)
		}
	}

	// Escalation names only the escalation roles' people, never the
	// requester or sponsor, and not the static list.
	if got, _ := dir.RoleUsernames(ctx, agent, []string{"security", "sre"}); !slices.Equal(sorted(got), []string{"alice", "bob", "mallory"}) {
		t.Errorf("RoleUsernames = %v", got)
	}

	// A reload changes who is asked next; no policy leaves the static list.
	p2, err := policy.Parse("p.yaml", []byte(`version: 1
roles:
  sre: {idp_groups: [sre], mattermost_users: [oscar]}
actions:
  - {name: restart, executor: kube}
rules:
  - {name: all, when: "true", require: {approvals: 1, roles: [sre]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	holder.Swap(p2)
	if got, _ := dir.ApproverUsernames(ctx, human("sre")); !slices.Equal(sorted(got), []string{"oscar", "zed"}) {
		t.Errorf("after reload: %v", got)
	}
	holder.Swap(nil)
	if got, _ := dir.ApproverUsernames(ctx, human("sre")); !slices.Equal(got, []string{"zed"}) {
		t.Errorf("without a policy: %v", got)
	}
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}
