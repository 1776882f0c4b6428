package policy

import (
	"slices"
	"sort"
)

// RolesForIdPGroups returns the policy roles that holders of the given IdP
// groups (the ID token's groups claim) have, sorted, without duplicates.
func (p *Policy) RolesForIdPGroups(groups []string) []string {
	var out []string
	for _, g := range groups {
		for _, r := range p.roles.idpGroups[g] {
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	sort.Strings(out)
	return out
}

// RolesForMattermostUser returns the policy roles of a Mattermost user
// (compared case-insensitively, a leading @ ignored), sorted. These are
// requester roles: the portal never grants deciding rights from a chat
// username, only from IdP groups.
func (p *Policy) RolesForMattermostUser(username string) []string {
	out := slices.Clone(p.roles.mattermostUsers[normUser(username)])
	sort.Strings(out)
	return out
}

// Roles returns the declared role names, sorted.
func (p *Policy) Roles() []string {
	out := make([]string, 0, len(p.roles.names))
	for r := range p.roles.names {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// Decides reports whether some rule names role as an approver or
// escalation role.
func (p *Policy) Decides(role string) bool {
	for _, r := range p.rules {
		if contains(r.outcome.Roles, role) || contains(r.outcome.EscalateTo, role) {
			return true
		}
	}
	return false
}

// HasRole reports whether the policy declares role.
func (p *Policy) HasRole(role string) bool { return p.roles.names[role] }
