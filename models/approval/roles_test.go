package approval_test

import (
	"context"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/storetest"
)

// rolesPolicy sends qa restarts to role srexa and prod ones to sre_a (an
// underscore, which SQL LIKE would read as "any character").
const rolesPolicy = `version: 1
roles:
  dev: {}
  sre_a: {idp_groups: [a]}
  srexa: {idp_groups: [x]}
  leads: {idp_groups: [leads]}
actions:
  - name: restart
    requesters: [dev]
    params:
      - {name: env, required: true}
rules:
  - name: qa
    when: request.params.env == "qa"
    require: {approvals: 1, roles: [srexa]}
  - name: prod
    when: request.params.env == "prod"
    require: {approvals: 1, roles: [sre_a], escalate_to: [leads], escalate_after: 30m}
`

func submitEnv(t *testing.T, svc *approval.Service, env string) *models.Request {
	t.Helper()
	in := humanRequest()
	in.Params = map[string]any{"env": env}
	in.TTL, in.RequiredApprovals, in.PolicyRef = 0, 0, ""
	sub, err := svc.Submit(context.Background(), in, []string{"dev"})
	if err != nil {
		t.Fatal(err)
	}
	return sub.Request
}

// TestActionableRolesMatchExactly: the list of requests a person may
// decide matches their roles exactly, so a page is never filled with
// requests for a role that merely looks alike and then emptied.
func TestActionableRolesMatchExactly(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		svc := approval.New(s, approval.Config{Policy: fixedPolicy{loadPolicy(t, rolesPolicy)}})
		prod := submitEnv(t, svc, "prod")
		submitEnv(t, svc, "qa") // newer, for srexa only
		a := approver("ann", "ann", "sre_a")
		p, err := svc.ListActionable(context.Background(), a, approval.Filter{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) != 1 || p.Items[0].ID != prod.ID || p.Next != "" {
			t.Fatalf("sre_a sees %d items (next %q), want only %s", len(p.Items), p.Next, prod.ID)
		}
		x := approver("xena", "xena", "srexa")
		if p, err := svc.ListActionable(context.Background(), x, approval.Filter{}); err != nil || len(p.Items) != 1 || p.Items[0].ID == prod.ID {
			t.Fatalf("srexa sees %+v (%v), want only the qa request", p, err)
		}
	})
}

// TestRequestRolesBackfilled: requests stored before request_roles
// existed get their rows when the migration runs.
func TestRequestRolesBackfilled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		s := b.Open(t)
		svc := approval.New(s, approval.Config{Policy: fixedPolicy{loadPolicy(t, rolesPolicy)}})
		prod := submitEnv(t, svc, "prod")
		ctx := context.Background()
		for _, stmt := range []string{`DROP TABLE request_roles`, `DELETE FROM schema_migrations WHERE version = 19`} {
			if err := s.DB(ctx).Exec(stmt).Error; err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		_ = s.Close()
		s = b.Open(t) // migrates again
		type row struct {
			Role       string
			Escalation bool
		}
		var rows []row
		if err := s.DB(ctx).Raw(`SELECT role, escalation FROM request_roles WHERE request_id = ? ORDER BY escalation, role`, prod.ID).Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 || rows[0] != (row{"sre_a", false}) || rows[1] != (row{"leads", true}) {
			t.Fatalf("backfilled roles %+v, want sre_a and escalation leads", rows)
		}
	})
}
