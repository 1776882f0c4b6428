package notify

import (
	"context"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
)

// RoleDirectory is an ApproverDirectory that can also name the people of
// given roles, for escalations (only those roles' people are told).
type RoleDirectory interface {
	ApproverDirectory
	RoleUsernames(ctx context.Context, r *models.Request, roles []string) ([]string, error)
}

// PolicyApprovers finds approvers in the policy in force: the Mattermost
// users the policy lists under the roles that may decide the request (its
// approver roles, plus its escalation roles once the escalation time has
// passed), together with the static list. The requester and an agent's
// sponsor are never named. The list is for notification only: whether
// someone may decide is checked in the portal from IdP groups.
type PolicyApprovers struct {
	// Policy gives the policy in force (*policy.Holder); nil or no policy
	// loaded leaves only the static list.
	Policy approval.PolicySource
	// Static is the configured list (mattermost.approvers), added to every
	// request's approvers.
	Static StaticApprovers
	// DefaultRoles are asked when the request names no approver roles
	// (approvals.approver_roles).
	DefaultRoles []string
	// Now is the clock that decides whether the escalation time has
	// passed; nil means time.Now.
	Now func() time.Time
}

// ApproverUsernames implements ApproverDirectory.
func (d PolicyApprovers) ApproverUsernames(_ context.Context, r *models.Request) ([]string, error) {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	roles := r.DeciderRoles(now())
	if roles == nil {
		roles = d.DefaultRoles
	}
	return eligible(r, append(d.people(roles), d.Static...)), nil
}

// RoleUsernames implements RoleDirectory: the people the policy lists
// under roles, without the requester and an agent's sponsor.
func (d PolicyApprovers) RoleUsernames(_ context.Context, r *models.Request, roles []string) ([]string, error) {
	return eligible(r, d.people(roles)), nil
}

// people are the Mattermost users of roles in the policy in force.
func (d PolicyApprovers) people(roles []string) []string {
	if d.Policy == nil {
		return nil
	}
	return d.Policy.Current().MattermostUsersInRoles(roles)
}

var _ RoleDirectory = PolicyApprovers{}
