package handlers

import (
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/grant"
)

// TestStateLineOnePerStage checks the sentence each lifecycle stage gets,
// above all the ones that used to contradict themselves: a grant that ran
// out after approval, and a request the policy approved on its own.
func TestStateLineOnePerStage(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	approve := func(name string) models.Decision {
		return models.Decision{ApproverID: name + "-id", ApproverName: name, Verdict: models.VerdictApprove, ContentHash: "h"}
	}
	base := func(state models.State, decisions ...models.Decision) *models.Request {
		return &models.Request{State: state, ContentHash: "h", RequiredApprovals: 2, ApprovalRules: models.ApprovalRules{ApproverRoles: models.Words{"sre"}},
			PolicyRef: "prod.yaml#prod-changes", CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(30 * time.Minute), Decisions: decisions}
	}
	open := &grant.Grant{Audience: "kube", ExpiresAt: now.Add(4 * time.Minute)}
	ranOut := &grant.Grant{Audience: "kube", ExpiresAt: now.Add(-time.Minute), State: grant.StateExpired}
	redeemedAt := now.Add(-10 * time.Second)
	redeemed := &grant.Grant{Audience: "kube", ExpiresAt: now.Add(4 * time.Minute), RedeemedAt: &redeemedAt, RedeemedBy: "executor:kube"}
	timedOut := base(models.StatePending, approve("alice"))
	timedOut.ExpiresAt = now.Add(-time.Minute)
	deny := models.Decision{ApproverName: "bob", Verdict: models.VerdictDeny, Comment: "not during the sale", ContentHash: "h"}

	cases := []struct {
		name, stage, text string
		r                 *models.Request
		g                 *grant.Grant
		due               bool
	}{
		{"waiting", "waiting", "Waiting for approvals: 1 of 2 so far, 1 more from sre.", base(models.StatePending, approve("alice")), nil, true},
		{"time ran out, not yet swept", "timed-out", "Time ran out with 1 of 2 approvals; it no longer takes decisions.", timedOut, nil, false},
		{"approved, waiting for the executor", "approved", "Approved by alice, bob (2 of 2); waiting for executor kube to run it.", base(models.StateApproved, approve("alice"), approve("bob")), open, true},
		{"approved, grant ran out before the sweep", "grant-expired", "Approved by alice, bob (2 of 2), but the grant expired unused: nothing ran.", base(models.StateApproved, approve("alice"), approve("bob")), ranOut, false},
		{"grant expired unused", "grant-expired", "Approved by alice, bob (2 of 2), but the grant expired unused: nothing ran.", base(models.StateExpired, approve("alice"), approve("bob")), ranOut, false},
		{"expired without approvals", "expired", "Expired waiting for approvals: 1 of 2 came in time.", base(models.StateExpired, approve("alice")), nil, false},
		{"running", "running", "Approved by alice, bob (2 of 2); executor kube redeemed the grant and is running it.", base(models.StateApproved, approve("alice"), approve("bob")), redeemed, false},
		{"executed", "executed", "Executed. Approved by alice, bob (2 of 2).", base(models.StateExecuted, approve("alice"), approve("bob")), redeemed, false},
		{"auto-approved and executed", "executed", "Executed. Approved automatically by rule prod-changes.", base(models.StateExecuted), nil, false},
		{"auto-approved, waiting", "auto-approved", "Approved automatically by rule prod-changes; waiting for executor kube to run it.", base(models.StateApproved), open, true},
		{"auto-approved, grant ran out", "grant-expired", "Approved automatically by rule prod-changes, but the grant expired unused: nothing ran.", base(models.StateExpired), ranOut, false},
		{"failed", "failed", "Approved by alice, bob (2 of 2), but the execution failed.", base(models.StateFailed, approve("alice"), approve("bob")), redeemed, false},
		{"denied", "denied", "Denied by bob: “not during the sale”.", base(models.StateDenied, deny), nil, false},
		{"cancelled", "cancelled", "Cancelled; it no longer takes decisions.", base(models.StateCancelled), nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := stateLine(c.r, c.g, now)
			if l.Stage != c.stage || l.Text != c.text {
				t.Errorf("stateLine = %q %q, want %q %q", l.Stage, l.Text, c.stage, c.text)
			}
			if (l.Due.ISO != "") != c.due {
				t.Errorf("countdown shown = %v, want %v (%+v)", l.Due.ISO != "", c.due, l.Due)
			}
			// The contradictions the issue found must not come back.
			if c.r.State != models.StatePending && strings.Contains(l.Text, "Waiting for approvals") {
				t.Errorf("a finished request reads as waiting: %q", l.Text)
			}
			if c.r.ApprovedByPolicy() && strings.Contains(l.Text, "0 of") {
				t.Errorf("an auto-approved request counts approvals: %q", l.Text)
			}
		})
	}
}
