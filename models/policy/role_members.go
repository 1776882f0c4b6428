package policy

import (
	"slices"
	"sort"
)

// MattermostUsersInRoles returns the Mattermost usernames (lower case,
// sorted, without duplicates) that the policy lists under any of roles.
// It serves notifications only (who to tell that a request waits for
// them): deciding rights never come from a chat username.
func (p *Policy) MattermostUsersInRoles(roles []string) []string {
	if p == nil || len(roles) == 0 {
		return nil
	}
	var out []string
	for user, held := range p.roles.mattermostUsers {
		for _, r := range held {
			if slices.Contains(roles, r) {
				out = append(out, user)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}
