package policy

import (
	"time"
)

// OutcomeKind is what a rule decides.
type OutcomeKind string

// The outcome kinds.
const (
	// OutcomeDeny refuses the request with a reason shown to the requester.
	OutcomeDeny OutcomeKind = "deny"
	// OutcomeAutoApprove approves without people; it is still audited.
	OutcomeAutoApprove OutcomeKind = "auto_approve"
	// OutcomeRequire sends the request to approvers.
	OutcomeRequire OutcomeKind = "require"
)

// Step-up methods a rule can ask for (step_up.method).
const (
	// StepUpMethodIdP is a fresh sign-in at the identity provider.
	StepUpMethodIdP = "idp"
	// StepUpMethodPasskey is a passkey signature of the decision.
	StepUpMethodPasskey = "passkey"
)

// StepUp is what a decision's fresh authentication must satisfy. Zero values
// mean the portal's configured defaults.
type StepUp struct {
	MaxAge time.Duration
	ACR    []string
	// Passkey requires each decision to be signed with a passkey instead
	// of an IdP step-up (step_up.method: passkey).
	Passkey bool
}

// Outcome is the result of evaluating a request against the policy.
type Outcome struct {
	Kind OutcomeKind
	// Rule names the matching rule; empty when nothing matched (default deny).
	Rule string
	// Condition is the matching rule's CEL source, for explanations.
	Condition string
	// Reason is shown to the requester when Kind is OutcomeDeny.
	Reason string
	// Approvals and Roles: how many distinct approvers, from which roles
	// (any of them), for OutcomeRequire.
	Approvals int
	Roles     []string
	// Window, when set, means the rule applies only while the named change
	// window is open.
	Window string
	StepUp StepUp
	// RequestTTL is how long the request may wait for decisions; GrantTTL how
	// long the execution grant lives once approved. Zero means defaults.
	RequestTTL time.Duration
	GrantTTL   time.Duration
	// Remind lists, as offsets from the request's creation, when pending
	// approvers are reminded (DM in Mattermost).
	Remind []time.Duration
	// EscalateTo names roles that may also approve, and are told, once
	// EscalateAfter has passed without enough approvals.
	EscalateTo    []string
	EscalateAfter time.Duration
	// Explanation says the outcome in plain words, e.g. "2 approvals from
	// sre needed, rule prod-changes, because params.env == \"prod\"".
	Explanation string
	// Err is set when evaluation failed (fail closed: Kind is OutcomeDeny).
	Err error
}

// Input is what the rules see. Field names match the CEL variables:
// request, requester, source, time and window.
type Input struct {
	Action  string
	Params  map[string]any
	Purpose string

	Requester Requester
	Source    Source
	Time      time.Time
	// OpenWindows names the change windows open at Time.
	OpenWindows []string
}

// Requester is the identity asking, as the rules see it.
type Requester struct {
	// Type is "human" or "agent".
	Type string
	ID   string
	Name string
	// Roles are the requester's policy roles (from Mattermost users or IdP
	// groups, see Policy.RolesFor…).
	Roles []string
	// Sponsor is an agent's accountable human (Mattermost username).
	Sponsor string
}

// Source is where in Mattermost the request was made.
type Source struct {
	Team    string
	Channel string
}
