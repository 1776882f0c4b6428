package search

// Roles that may search and export the whole audit log. Approvers see the
// requests they may decide, but the log across everyone's requests is for
// auditors and administrators.
const (
	RoleAuditor = "auditor"
	RoleAdmin   = "admin"
)

// MaySearch reports whether someone with roles may use the audit search,
// its exports and ranged bundles.
func MaySearch(roles []string) bool {
	for _, r := range roles {
		if r == RoleAuditor || r == RoleAdmin {
			return true
		}
	}
	return false
}
