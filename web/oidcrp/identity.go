package oidcrp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Identity is the verified result of a login: who, in which groups, and
// how and when they authenticated. The portal stores it in the session;
// its time and strength are what every decision's step-up rule checks.
type Identity struct {
	// Issuer and Subject together identify the person (a sub is unique
	// only per issuer).
	Issuer string
	// Subject is the sub claim.
	Subject string
	// Name is the display name, for pages and audit.
	Name string
	// Email is the email claim, for display and audit only (never for
	// authorization: IdPs let users edit it).
	Email string
	// PreferredUsername is the login name, for display and audit.
	PreferredUsername string
	// Groups comes from Config.RolesClaim.
	Groups []string
	// RolesClaim names that claim; RolesClaimPresent is false when neither
	// the ID token nor userinfo carried it at all (as opposed to carrying
	// groups that map to no role): the provider does not release it.
	RolesClaim        string
	RolesClaimPresent bool
	// AuthTime is when the person actually authenticated at the IdP;
	// zero when the IdP did not say.
	AuthTime time.Time
	// ACR is the authentication context class the IdP reports.
	ACR string
	// AMR lists the authentication methods used (RFC 8176).
	AMR []string
	// IDTokenHash is the hex SHA-256 of the raw ID token: the audit log
	// records it to bind a decision to this very login without storing
	// the token.
	IDTokenHash string
	// RawIDToken is kept only for the id_token_hint of a logout; never
	// log it or show it.
	RawIDToken string
	// Claims are every claim of the login: the ID token's, completed by
	// the userinfo endpoint's for claims the ID token left out (profile
	// and group claims only; the authentication claims come from the ID
	// token alone). Read a configured claim such as the username from
	// here.
	Claims map[string]json.RawMessage
	// FromUserinfo names the claims that came from the userinfo endpoint,
	// sorted; empty when the ID token had everything.
	FromUserinfo []string
}

// claims is the typed view of the ID token claims this package reads.
type claims struct {
	subject, name, email, preferredUsername string
	azp, acr                                string
	amr, groups                             []string
	authTime, issuedAt                      time.Time
	rolesClaim                              string
	rolesPresent                            bool
}

// parseClaims decodes the claims one by one, so a claim of the wrong type
// fails loudly instead of silently becoming empty. m holds the ID token's
// claims, completed from userinfo.
func parseClaims(m map[string]json.RawMessage, subject, rolesClaim string) (claims, error) {
	var c claims
	c.subject = subject
	var err error
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"name", &c.name}, {"email", &c.email}, {"preferred_username", &c.preferredUsername},
		{"azp", &c.azp}, {"acr", &c.acr},
	} {
		if *f.dst, err = stringClaim(m, f.name); err != nil {
			return claims{}, err
		}
	}
	if c.amr, err = stringsClaim(m["amr"], "amr"); err != nil {
		return claims{}, err
	}
	if c.authTime, err = timeClaim(m, "auth_time"); err != nil {
		return claims{}, err
	}
	if c.issuedAt, err = timeClaim(m, "iat"); err != nil {
		return claims{}, err
	}
	roles, err := lookupClaim(m, rolesClaim)
	if err != nil {
		return claims{}, err
	}
	if c.groups, err = stringsClaim(roles, rolesClaim); err != nil {
		return claims{}, err
	}
	c.rolesClaim, c.rolesPresent = rolesClaim, !isAbsent(roles)
	return c, nil
}

func (c claims) identity(issuer, raw string, all map[string]json.RawMessage, fromUserinfo []string) *Identity {
	sum := sha256.Sum256([]byte(raw))
	return &Identity{
		Issuer:            issuer,
		Subject:           c.subject,
		Name:              c.name,
		Email:             c.email,
		PreferredUsername: c.preferredUsername,
		Groups:            slices.Clone(c.groups),
		RolesClaim:        c.rolesClaim,
		RolesClaimPresent: c.rolesPresent,
		AuthTime:          c.authTime,
		ACR:               c.acr,
		AMR:               slices.Clone(c.amr),
		IDTokenHash:       hex.EncodeToString(sum[:]),
		RawIDToken:        raw,
		Claims:            all,
		FromUserinfo:      fromUserinfo,
	}
}

func isAbsent(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

func stringClaim(m map[string]json.RawMessage, name string) (string, error) {
	raw := m[name]
	if isAbsent(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: claim %s is not a string", ErrIDToken, name)
	}
	return s, nil
}

// stringsClaim accepts a string or an array of strings, since IdPs differ
// (a single group is often sent as a bare string).
func stringsClaim(raw json.RawMessage, name string) ([]string, error) {
	if isAbsent(raw) {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		return list, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	return nil, fmt.Errorf("%w: claim %s is neither a string nor an array of strings", ErrIDToken, name)
}

// timeClaim reads a NumericDate (seconds since the epoch, possibly with a
// fraction).
func timeClaim(m map[string]json.RawMessage, name string) (time.Time, error) {
	raw := m[name]
	if isAbsent(raw) {
		return time.Time{}, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f <= 0 || math.IsInf(f, 0) || f > 1e11 {
		return time.Time{}, fmt.Errorf("%w: claim %s is not a valid time", ErrIDToken, name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// lookupClaim finds the roles claim by exact name first (Auth0-style
// names are URLs full of dots), then as a dotted path into nested objects
// (Keycloak's realm_access.roles).
func lookupClaim(m map[string]json.RawMessage, name string) (json.RawMessage, error) {
	if raw, ok := m[name]; ok {
		return raw, nil
	}
	parts := strings.Split(name, ".")
	if len(parts) < 2 {
		return nil, nil
	}
	cur := m
	for i, p := range parts {
		raw, ok := cur[p]
		if !ok {
			return nil, nil
		}
		if i == len(parts)-1 {
			return raw, nil
		}
		var next map[string]json.RawMessage
		if err := json.Unmarshal(raw, &next); err != nil {
			return nil, fmt.Errorf("%w: claim path %s: %s is not an object", ErrIDToken, name, p)
		}
		cur = next
	}
	return nil, nil
}
