package session

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/countersign/countersign/web/oidcrp"
)

// DefaultUsernameClaim is the ID token claim read as the username when
// Mapping.UsernameClaim is empty.
const DefaultUsernameClaim = "preferred_username"

// ErrNoUsername means the configured username claim is missing or empty.
// Signing such a person in would blind the separation-of-duties rules,
// which compare usernames with chat requesters.
var ErrNoUsername = errors.New("session: the identity has no username")

// Mapping turns a verified IdP identity into a signed-in User.
type Mapping struct {
	// Roles maps an IdP group (from the RP's roles claim) to the
	// Countersign roles it grants. Groups not listed grant nothing.
	Roles map[string][]string
	// UsernameClaim names the claim used as the username (matched against
	// Mattermost usernames). Default "preferred_username"; "email", "sub",
	// "name" or any other string claim of the ID token or userinfo work
	// too.
	UsernameClaim string
	// PolicyRoles, when set, adds the roles the policy in force gives the
	// person's IdP groups (policy.Policy.RolesForIdPGroups), on top of
	// Roles. It is asked at every sign-in, so a reloaded policy applies
	// from the next sign-in on.
	PolicyRoles func(groups []string) []string
}

// User maps id to a User: username from the configured claim, roles from
// the group mapping, and id's authentication as the user's evidence. A
// person whose groups map to no role still signs in (a requester may follow
// their own requests); what a role-less user may see or decide is the
// pages' and the domain's business. It fails with ErrNoUsername rather than
// sign in a person the separation-of-duties rules cannot recognise.
func (m Mapping) User(id *oidcrp.Identity) (*User, error) {
	if id == nil || id.Subject == "" || id.Issuer == "" {
		return nil, errors.New("session: identity without issuer or subject")
	}
	username, err := claimString(id, m.usernameClaim())
	if err != nil {
		return nil, err
	}
	username = strings.TrimSpace(username)
	if username == "" {
		return nil, fmt.Errorf("%w (claim %s)", ErrNoUsername, m.usernameClaim())
	}
	u := &User{Subject: id.Subject, Issuer: id.Issuer, Username: username, Name: id.Name, Email: id.Email, Roles: m.roles(id.Groups)}
	if !id.RolesClaimPresent && len(u.Roles) == 0 {
		u.MissingRolesClaim = id.RolesClaim
	}
	return u.WithEvidence(id), nil
}

func (m Mapping) usernameClaim() string {
	if m.UsernameClaim == "" {
		return DefaultUsernameClaim
	}
	return m.UsernameClaim
}

// roles is the sorted union of the roles granted by groups.
func (m Mapping) roles(groups []string) []string {
	var out []string
	for _, g := range groups {
		for _, r := range m.Roles[g] {
			if r != "" && !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	if m.PolicyRoles != nil {
		for _, r := range m.PolicyRoles(groups) {
			if r != "" && !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	slices.Sort(out)
	return out
}

// claimString reads a string claim: the ones oidcrp already decoded
// directly, any other from the login's claims (the ID token's, completed
// from userinfo), or from the raw ID token for an identity without them.
func claimString(id *oidcrp.Identity, claim string) (string, error) {
	switch claim {
	case "preferred_username":
		return id.PreferredUsername, nil
	case "email":
		return id.Email, nil
	case "sub":
		return id.Subject, nil
	case "name":
		return id.Name, nil
	}
	claims := id.Claims
	if claims == nil {
		var err error
		if claims, err = idTokenClaims(id.RawIDToken); err != nil {
			return "", fmt.Errorf("session: read claim %s: %w", claim, err)
		}
	}
	raw, ok := claims[claim]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("session: claim %s is not a string", claim)
	}
	return s, nil
}

// idTokenClaims decodes the payload of an ID token already verified.
func idTokenClaims(raw string) (map[string]json.RawMessage, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, errors.New("ID token is not a JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, err
	}
	return claims, nil
}

// WithEvidence returns a copy of u whose authentication evidence (time,
// acr, amr, ID token hash) is id's: after a step-up the person, roles and
// name stay, the proof is new.
func (u *User) WithEvidence(id *oidcrp.Identity) *User {
	c := *u
	c.Roles = slices.Clone(u.Roles)
	c.AuthTime, c.ACR, c.AMR, c.IDTokenHash = id.AuthTime, id.ACR, slices.Clone(id.AMR), id.IDTokenHash
	return &c
}
