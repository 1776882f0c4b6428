// Package agents holds the non-human identities allowed to propose actions:
// the registry of agents (from configuration), their API keys (shown once,
// stored hashed, with expiry and revocation, every change audited) and the
// idempotency records that make a replayed API call return the request the
// first call made.
package agents

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/countersign/countersign/models"
)

// Agent is one registered agent: a Mattermost bot account acting for a
// human sponsor.
type Agent struct {
	// Name identifies the agent in keys, audit records and pages.
	Name string
	// BotUserID is the agent's Mattermost bot account; its proposals must be
	// posts written by exactly this user id.
	BotUserID string
	// Sponsor is the accountable human's Mattermost username.
	Sponsor string
	// Roles are the policy roles the agent requests with.
	Roles []string
	// ClientID is the agent's OAuth client id at the IdP, for
	// client-credentials tokens; empty when it uses API keys only.
	ClientID string
}

// Actor is the agent as a requester: its bot user id, its name, and its
// sponsor (by Mattermost username, which is what the separation-of-duties
// rules compare).
func (a *Agent) Actor() models.Actor {
	return models.Actor{Type: models.ActorAgent, ID: a.BotUserID, Display: a.Name, SponsorID: "@" + a.Sponsor, SponsorName: a.Sponsor}
}

var (
	agentName      = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	mattermostID   = regexp.MustCompile(`^[a-z0-9]{26}$`)
	mattermostName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
)

// Validate checks one agent's definition.
func (a *Agent) Validate() error {
	switch {
	case !agentName.MatchString(a.Name):
		return fmt.Errorf("agent %q: name must be 1–64 lower-case letters, digits, '_' or '-', starting with a letter", a.Name)
	case !mattermostID.MatchString(a.BotUserID):
		return fmt.Errorf("agent %s: bot_user_id must be a 26-character Mattermost user id", a.Name)
	case !mattermostName.MatchString(strings.TrimPrefix(a.Sponsor, "@")):
		return fmt.Errorf("agent %s: sponsor must be the Mattermost username of a person", a.Name)
	}
	return nil
}

// Registry is the set of registered agents. It is immutable once built.
type Registry struct {
	byName   map[string]*Agent
	byClient map[string]*Agent
	list     []*Agent
}

// NewRegistry validates agents and indexes them. Names, bot user ids and
// client ids must be unique: one bot account is one agent.
func NewRegistry(list []Agent) (*Registry, error) {
	r := &Registry{byName: map[string]*Agent{}, byClient: map[string]*Agent{}}
	bots := map[string]bool{}
	for i := range list {
		a := list[i]
		a.Sponsor = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(a.Sponsor), "@"))
		a.Roles = slices.Clone(a.Roles)
		if err := a.Validate(); err != nil {
			return nil, err
		}
		if r.byName[a.Name] != nil {
			return nil, fmt.Errorf("agent %s is registered twice", a.Name)
		}
		if bots[a.BotUserID] {
			return nil, fmt.Errorf("agent %s: bot user %s already belongs to another agent", a.Name, a.BotUserID)
		}
		if a.ClientID != "" && r.byClient[a.ClientID] != nil {
			return nil, fmt.Errorf("agent %s: client id %q already belongs to another agent", a.Name, a.ClientID)
		}
		bots[a.BotUserID] = true
		r.byName[a.Name] = &a
		if a.ClientID != "" {
			r.byClient[a.ClientID] = &a
		}
		r.list = append(r.list, &a)
	}
	return r, nil
}

// ByName returns the agent named name.
func (r *Registry) ByName(name string) (*Agent, bool) {
	if r == nil {
		return nil, false
	}
	a, ok := r.byName[name]
	return a, ok
}

// ByClientID returns the agent registered with OAuth client id id.
func (r *Registry) ByClientID(id string) (*Agent, bool) {
	if r == nil || id == "" {
		return nil, false
	}
	a, ok := r.byClient[id]
	return a, ok
}

// All returns the agents in configuration order.
func (r *Registry) All() []*Agent {
	if r == nil {
		return nil
	}
	return slices.Clone(r.list)
}
