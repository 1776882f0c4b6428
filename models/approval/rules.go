package approval

import (
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/passkey"
)

// Config holds the rules a Service applies until per-request policy
// decides them.
type Config struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ApproverRoles lists the roles allowed to decide. Empty means any
	// signed-in person with at least one role.
	ApproverRoles []string
	// SponsorMayApprove lets an agent's human sponsor approve that agent's
	// requests. Off by default: the sponsor is accountable for the agent and
	// should not be its only check.
	SponsorMayApprove bool
	// Effects run inside the transaction of every change, after its audit
	// event, in their fixed order (see Effects).
	Effects Effects
	// DefaultTTL is how long a request submitted under a rule without its
	// own ttl waits for decisions; 0 means DefaultRequestTTL.
	DefaultTTL time.Duration
	// Policy gives the policy Submit applies; nil refuses Submit.
	Policy PolicySource
	// Windows tells Submit which change windows are open; nil means none.
	Windows WindowSource
	// StepUp is the portal's step-up rule; each request's own (from its
	// policy rule) tightens it (StepUpFor). Zero values mean the defaults.
	StepUp StepUpRule
	// Conversation reads a request's conversation again when someone is
	// about to decide (PrepareDecision); nil decides on the capture alone.
	Conversation ConversationReader
	// RereadTimeout bounds one such read, so a slow chat delays a decision
	// by at most this much; 0 means DefaultRereadTimeout.
	RereadTimeout time.Duration
	// Passkeys checks passkey-signed decisions; nil refuses them (and so
	// every request whose rule requires one).
	Passkeys *passkey.Service
}

// Approver is a person deciding in the portal.
type Approver struct {
	// Actor.ID is the IdP subject; Actor.Display the name shown.
	Actor models.Actor
	// Username is the person's chat username (lower case), compared with
	// the requester's and sponsor's Mattermost usernames.
	Username string
	Roles    []string
}

// StepUp is the evidence of the fresh authentication behind a decision.
type StepUp struct {
	AuthTime    time.Time
	ACR         string
	AMR         []string
	IDTokenHash string
}

// mayDecide reports whether the approver's roles allow deciding at all.
func (c Config) mayDecide(a Approver) bool {
	if len(c.ApproverRoles) == 0 {
		return len(a.Roles) > 0
	}
	for _, want := range c.ApproverRoles {
		for _, have := range a.Roles {
			if want == have {
				return true
			}
		}
	}
	return false
}

// SeesAll reports whether a may see every request: anyone the company has
// given a Countersign role (approver, auditor, admin) or a policy role that
// approves. People without one — including those whose only roles are the
// policy's requester roles — see only what concerns them (see MayView).
func (s *Service) SeesAll(a Approver) bool {
	for _, r := range a.Roles {
		if !s.requesterOnlyRole(r) {
			return true
		}
	}
	return false
}

// MayView reports whether a may see request r: everything with a role, or
// otherwise their own requests (as requester, or as an agent's sponsor).
// Callers answer "not found" otherwise, so an id's existence is not revealed.
func (s *Service) MayView(r *models.Request, a Approver) bool {
	if s.SeesAll(a) {
		return true
	}
	return r.MadeBy(a.Actor.ID, a.Username) || r.SponsoredBy(a.Actor.ID, a.Username)
}

// MayEverDecide reports whether a holds a role that decides some requests:
// a configured approver role, or a role the policy in force names as an
// approver or escalation role. Pages offer the "needs your decision" list
// only to them; everyone else could only ever see it empty.
func (s *Service) MayEverDecide(a Approver) bool {
	if s.cfg.mayDecide(a) {
		return true
	}
	if s.cfg.Policy == nil {
		return false
	}
	p := s.cfg.Policy.Current()
	if p == nil {
		return false
	}
	for _, r := range a.Roles {
		if p.Decides(r) {
			return true
		}
	}
	return false
}
