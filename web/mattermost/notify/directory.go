package notify

import (
	"context"
	"strings"

	"github.com/countersign/countersign/models"
)

// ApproverDirectory says who may approve a request, by Mattermost
// username, so they can be told it waits for them. The list is for
// notification only: whether someone may decide is checked in the portal.
type ApproverDirectory interface {
	ApproverUsernames(ctx context.Context, r *models.Request) ([]string, error)
}

// StaticApprovers is the configured list (mattermost.approvers), the same
// for every request.
type StaticApprovers []string

// ApproverUsernames implements ApproverDirectory.
func (s StaticApprovers) ApproverUsernames(context.Context, *models.Request) ([]string, error) {
	return append([]string(nil), s...), nil
}

// eligible drops the requester and an agent's sponsor (they never
// approve their own request, so they are not asked to), duplicates and
// blanks; names compare case-insensitively without a leading @.
func eligible(r *models.Request, names []string) []string {
	seen := map[string]bool{"": true}
	var out []string
	for _, n := range names {
		k := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(n), "@"))
		if seen[k] || r.MadeBy("", k) || r.SponsoredBy("", k) {
			continue
		}
		seen[k] = true
		out = append(out, k)
	}
	return out
}
