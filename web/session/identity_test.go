package session

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/countersign/countersign/web/oidcrp"
)

// fakeJWT builds a token-shaped string whose payload is payload; Mapping
// reads claims only from identities the RP already verified.
func fakeJWT(payload string) string {
	return "e30." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".sig"
}

func identity() *oidcrp.Identity {
	return &oidcrp.Identity{
		Issuer: "https://idp.test", Subject: "sub-1", Name: "Alice A.", Email: "alice@example.com",
		PreferredUsername: "alice", Groups: []string{"sre", "oncall", "unmapped"},
		AuthTime: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), ACR: "urn:acr:mfa", AMR: []string{"pwd", "otp"},
		IDTokenHash: "hash", RawIDToken: fakeJWT(`{"sub":"sub-1","mm_username":"alice.mm","n":5}`),
	}
}

func TestMappingUser(t *testing.T) {
	m := Mapping{Roles: map[string][]string{"sre": {"approver"}, "oncall": {"approver", "responder"}, "audit": {"auditor"}}}
	u, err := m.User(identity())
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "alice" || u.Subject != "sub-1" || u.Issuer != "https://idp.test" || u.Name != "Alice A." {
		t.Errorf("user = %+v", u)
	}
	if !slices.Equal(u.Roles, []string{"approver", "responder"}) {
		t.Errorf("roles = %q, want the sorted union without duplicates", u.Roles)
	}
	if u.ACR != "urn:acr:mfa" || !slices.Equal(u.AMR, []string{"pwd", "otp"}) || u.IDTokenHash != "hash" || !u.AuthTime.Equal(identity().AuthTime) {
		t.Errorf("evidence = %+v", u)
	}
}

func TestMappingUsernameClaims(t *testing.T) {
	for claim, want := range map[string]string{
		"":                   "alice",
		"preferred_username": "alice",
		"email":              "alice@example.com",
		"sub":                "sub-1",
		"mm_username":        "alice.mm",
	} {
		u, err := Mapping{UsernameClaim: claim}.User(identity())
		if err != nil || u.Username != want {
			t.Errorf("claim %q: %v %v, want %q", claim, u, err, want)
		}
	}
	for _, claim := range []string{"missing", "n"} {
		if _, err := (Mapping{UsernameClaim: claim}).User(identity()); err == nil {
			t.Errorf("claim %q: accepted", claim)
		}
	}
	// A claim the RP took from userinfo is read from the login's claims,
	// which win over the raw ID token.
	fromUserinfo := identity()
	fromUserinfo.Claims = map[string]json.RawMessage{"sub": []byte(`"sub-1"`), "mm_username": []byte(`"alice.userinfo"`)}
	if u, err := (Mapping{UsernameClaim: "mm_username"}).User(fromUserinfo); err != nil || u.Username != "alice.userinfo" {
		t.Errorf("claim from userinfo: %v %v", u, err)
	}
	id := identity()
	id.PreferredUsername = "  "
	if _, err := (Mapping{}).User(id); !errors.Is(err, ErrNoUsername) {
		t.Errorf("blank username: %v, want ErrNoUsername", err)
	}
}

func TestMappingWithoutRolesStillSignsIn(t *testing.T) {
	u, err := Mapping{}.User(identity())
	if err != nil || len(u.Roles) != 0 {
		t.Fatalf("no role map: %+v %v", u, err)
	}
}

func TestWithEvidenceKeepsThePersonAndReplacesTheProof(t *testing.T) {
	u, _ := Mapping{Roles: map[string][]string{"sre": {"approver"}}}.User(identity())
	later := &oidcrp.Identity{AuthTime: u.AuthTime.Add(time.Hour), ACR: "x", AMR: []string{"hwk"}, IDTokenHash: "h2", Subject: "other"}
	v := u.WithEvidence(later)
	if v.Subject != u.Subject || v.Username != u.Username || !slices.Equal(v.Roles, u.Roles) {
		t.Errorf("person changed: %+v", v)
	}
	if !v.AuthTime.Equal(later.AuthTime) || v.ACR != "x" || v.AMR[0] != "hwk" || v.IDTokenHash != "h2" {
		t.Errorf("evidence not replaced: %+v", v)
	}
	if u.ACR == "x" {
		t.Error("WithEvidence changed the original")
	}
	if su := v.StepUp(); !su.AuthTime.Equal(later.AuthTime) || su.ACR != "x" || su.IDTokenHash != "h2" {
		t.Errorf("StepUp() = %+v", su)
	}
}

func TestMappingAddsPolicyRoles(t *testing.T) {
	var asked []string
	m := Mapping{
		Roles: map[string][]string{"sre": {"approver"}},
		PolicyRoles: func(groups []string) []string {
			asked = groups
			return []string{"sre", "approver"}
		},
	}
	u, err := m.User(identity())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(u.Roles, []string{"approver", "sre"}) || len(asked) == 0 {
		t.Errorf("roles %v (policy asked with %v)", u.Roles, asked)
	}
}

// TestMappingNotesAMissingRolesClaim: no role because the provider sent no
// roles claim at all is noted on the user (the dashboard explains it);
// groups that map to no role, or a role despite the claim missing (the
// policy's own mapping), are not.
func TestMappingNotesAMissingRolesClaim(t *testing.T) {
	m := Mapping{Roles: map[string][]string{"sre": {"approver"}}}
	id := identity()
	id.Groups, id.RolesClaim, id.RolesClaimPresent = nil, "groups", false
	if u, err := m.User(id); err != nil || u.MissingRolesClaim != "groups" || len(u.Roles) != 0 {
		t.Errorf("claim absent: %+v %v", u, err)
	}
	id.Groups, id.RolesClaimPresent = []string{"dev"}, true
	if u, err := m.User(id); err != nil || u.MissingRolesClaim != "" {
		t.Errorf("claim present, groups unmapped: %+v %v", u, err)
	}
	encoded, err := encodeUser(&User{Subject: "s", Issuer: "i", Username: "u", MissingRolesClaim: "groups"})
	if err != nil {
		t.Fatal(err)
	}
	if back, err := decodeUser(encoded); err != nil || back.MissingRolesClaim != "groups" {
		t.Errorf("stored and read back: %+v %v", back, err)
	}
}
