package approval

import (
	"fmt"
	"slices"
	"strings"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/policy"
)

// mayDecide reports whether a's roles let them decide r now: the roles the
// matching policy rule named (plus escalation roles once due), or the
// configured approver roles for requests without their own.
func (s *Service) mayDecide(r *models.Request, a Approver) bool {
	roles := r.DeciderRoles(s.clock())
	if roles == nil {
		return s.cfg.mayDecide(a)
	}
	for _, have := range a.Roles {
		if slices.Contains(roles, have) {
			return true
		}
	}
	return false
}

// requesterOnlyRole reports whether role is one the policy in force
// declares but never names as an approver or escalation role: it lets
// people ask, not see everyone's requests.
func (s *Service) requesterOnlyRole(role string) bool {
	if s.cfg.Policy == nil {
		return false
	}
	p := s.cfg.Policy.Current()
	return p != nil && p.HasRole(role) && !p.Decides(role)
}

// rulesFrom turns a policy outcome into the settings stored on a request.
func rulesFrom(out policy.Outcome) models.ApprovalRules {
	r := models.ApprovalRules{PolicyExplanation: out.Explanation, PolicyWindow: out.Window, GrantTTL: out.GrantTTL}
	if out.Kind != policy.OutcomeRequire {
		return r
	}
	r.ApproverRoles = slices.Clone(out.Roles)
	r.StepUpMaxAge = out.StepUp.MaxAge
	r.StepUpACR = slices.Clone(out.StepUp.ACR)
	r.StepUpPasskey = out.StepUp.Passkey
	r.EscalateRoles = slices.Clone(out.EscalateTo)
	r.EscalateAfter = out.EscalateAfter
	r.Remind = slices.Clone(out.Remind)
	return r
}

// policyPayload is the part of the request.created audit event that
// records what the policy decided, when it decided anything.
func policyPayload(r *models.Request) map[string]any {
	if r.PolicyExplanation == "" {
		return nil
	}
	durs := make([]string, len(r.Remind))
	for i, d := range r.Remind {
		durs[i] = d.String()
	}
	p := map[string]any{
		"explanation": r.PolicyExplanation, "approver_roles": nonNil(r.ApproverRoles), "window": r.PolicyWindow,
		"step_up_max_age": r.StepUpMaxAge.String(), "step_up_acr": nonNil(r.StepUpACR), "grant_ttl": r.GrantTTL.String(),
		"escalate_to": nonNil(r.EscalateRoles), "escalate_after": r.EscalateAfter.String(), "remind": durs,
	}
	if r.StepUpPasskey {
		p["step_up_method"] = "passkey"
	}
	return p
}

// roleCondition is the SQL form of mayDecide without the escalation time:
// requests without their own approver roles when a holds a configured
// approver role, and requests naming one of a's roles, exactly, as
// approver or escalation role (request_roles). Empty when a can decide
// nothing.
func (s *Service) roleCondition(a Approver) (string, []any) {
	var conds []string
	var args []any
	if s.cfg.mayDecide(a) {
		conds = append(conds, "approver_roles = ''")
	}
	if len(a.Roles) > 0 {
		conds = append(conds, "EXISTS (SELECT 1 FROM request_roles rr WHERE rr.request_id = requests.id AND rr.role IN ?)")
		args = append(args, a.Roles)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return "(" + strings.Join(conds, " OR ") + ")", args
}

// insertRoles records the roles that may decide r, one row each, in tx:
// the index roleCondition matches exactly.
func insertRoles(tx *gorm.DB, r *models.Request) error {
	for _, set := range []struct {
		roles      []string
		escalation bool
	}{{r.ApproverRoles, false}, {r.EscalateRoles, true}} {
		for _, role := range slices.Compact(slices.Sorted(slices.Values(set.roles))) {
			if err := tx.Exec(`INSERT INTO request_roles (request_id, role, escalation) VALUES (?, ?, ?)`, r.ID, role, set.escalation).Error; err != nil {
				return fmt.Errorf("insert decider role %q: %w", role, err)
			}
		}
	}
	return nil
}
