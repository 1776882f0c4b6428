package oidcrp

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// TestUserinfoCompletesTheIDToken: a provider that follows the
// specification's default places profile and group claims at userinfo;
// the relying party asks for them only when the ID token leaves out a
// claim it reads, takes them only for claims the token lacks, never takes
// the authentication claims from there, and refuses userinfo about
// another subject or a failing endpoint.
func TestUserinfoCompletesTheIDToken(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rp := newTokenRP(t, ts, now)
	login := func(idClaims map[string]any) (*Identity, error) {
		t.Helper()
		_, pending := mustBegin(t, rp, AuthOptions{})
		claims := map[string]any{"iss": ts.srv.URL, "sub": "u-1", "aud": tsClient, "exp": now.Add(time.Minute).Unix(), "nonce": pending.Nonce,
			"auth_time": now.Add(-time.Minute).Unix(), "acr": "urn:password"}
		for k, v := range idClaims {
			claims[k] = v
		}
		return completeWith(t, ts, rp, pending, claims, false, nil)
	}
	full := map[string]any{"preferred_username": "alice", "name": "Alice", "email": "a@example.com", "groups": []string{"sre"}}

	t.Run("claims at userinfo only", func(t *testing.T) {
		ts.answerUserinfo(map[string]any{"sub": "u-1", "preferred_username": "alice", "name": "Alice", "groups": []string{"sre", "approvers"},
			"acr": "urn:mfa", "amr": []string{"otp"}, "auth_time": now.Unix(), "employee_id": "E-7"}, false)
		id, err := login(nil)
		if err != nil {
			t.Fatal(err)
		}
		if id.PreferredUsername != "alice" || id.Name != "Alice" || !slices.Equal(id.Groups, []string{"sre", "approvers"}) {
			t.Fatalf("identity %+v", id)
		}
		// The strength of the login is the ID token's word alone.
		if id.ACR != "urn:password" || len(id.AMR) != 0 || !id.AuthTime.Equal(now.Add(-time.Minute)) {
			t.Fatalf("authentication claims taken from userinfo: acr %q amr %q auth_time %s", id.ACR, id.AMR, id.AuthTime)
		}
		if !slices.Equal(id.FromUserinfo, []string{"employee_id", "groups", "name", "preferred_username"}) || string(id.Claims["employee_id"]) != `"E-7"` {
			t.Fatalf("from userinfo %q, claims %s", id.FromUserinfo, id.Claims)
		}
		if ts.userinfoCalls() != 1 {
			t.Fatalf("userinfo asked %d times", ts.userinfoCalls())
		}
	})
	t.Run("ID token wins", func(t *testing.T) {
		ts.answerUserinfo(map[string]any{"sub": "u-1", "preferred_username": "mallory", "name": "Alice", "email": "a@example.com", "groups": []string{"admins"}}, false)
		id, err := login(map[string]any{"preferred_username": "alice", "groups": []string{"sre"}})
		if err != nil {
			t.Fatal(err)
		}
		if id.PreferredUsername != "alice" || !slices.Equal(id.Groups, []string{"sre"}) || !slices.Equal(id.FromUserinfo, []string{"email", "name"}) {
			t.Fatalf("identity %+v", id)
		}
	})
	t.Run("not asked when the ID token has everything", func(t *testing.T) {
		ts.answerUserinfo(nil, true) // would fail the login if asked
		if _, err := login(full); err != nil {
			t.Fatal(err)
		}
		if ts.userinfoCalls() != 0 {
			t.Fatalf("userinfo asked %d times", ts.userinfoCalls())
		}
	})
	t.Run("another subject", func(t *testing.T) {
		ts.answerUserinfo(map[string]any{"sub": "u-2", "preferred_username": "bob"}, false)
		if _, err := login(nil); !errors.Is(err, ErrUserinfo) {
			t.Fatalf("err = %v, want ErrUserinfo", err)
		}
	})
	t.Run("endpoint fails", func(t *testing.T) {
		ts.answerUserinfo(nil, true)
		if _, err := login(nil); !errors.Is(err, ErrUserinfo) {
			t.Fatalf("err = %v, want ErrUserinfo", err)
		}
	})
	t.Run("a wrongly typed claim from userinfo is refused", func(t *testing.T) {
		ts.answerUserinfo(map[string]any{"sub": "u-1", "preferred_username": 42}, false)
		if _, err := login(nil); !errors.Is(err, ErrIDToken) {
			t.Fatalf("err = %v, want a claim type error", err)
		}
	})
}
