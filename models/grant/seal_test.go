package grant_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/models/grant/granttest"
	"github.com/countersign/countersign/models/storetest"
)

// TestSigningKeysAreSealedAtRest: the stored seed is AES-GCM ciphertext
// bound to its kid; the same seal key opens it, another key, no key or a
// row moved to another kid do not, and a bad seal key is refused at once.
func TestSigningKeysAreSealedAtRest(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		e := granttest.New(t, s)
		kid, err := e.Grants.EnsureKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var row grant.KeyRow
		if err := s.DB(ctx).Take(&row, "kid = ?", kid).Error; err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(row.Seed, "sealed:v1:") {
			t.Fatalf("stored seed is not sealed: %.20q", row.Seed)
		}
		if raw, err := base64.RawURLEncoding.DecodeString(row.Seed); err == nil && len(raw) == 32 {
			t.Fatal("stored seed decodes as a plain seed")
		}
		r := e.Approved(t, models.Actor{Type: models.ActorHuman, ID: "u-carol", Display: "carol"})
		if _, err := e.Grants.Token(ctx, r.ID); err != nil {
			t.Fatalf("token with the right seal key: %v", err)
		}
		for _, tc := range []struct {
			name string
			key  []byte
			want string
		}{
			{"another key", []byte("fedcba9876543210fedcba9876543210"), "does not open with the configured seal key"},
			{"no key", nil, "is sealed and no seal key is configured"},
		} {
			other, err := grant.New(s, grant.Config{Issuer: e.Grants.Issuer(), SealKey: tc.key})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := other.Token(ctx, r.ID); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
			}
		}
		// A sealed seed copied onto another key's row does not open there.
		moved := grant.KeyRow{KID: "moved-kid", Seed: row.Seed, CreatedAt: row.CreatedAt.Add(-1)}
		if err := s.DB(ctx).Create(&moved).Error; err != nil {
			t.Fatal(err)
		}
		fresh, err := grant.New(s, grant.Config{Issuer: e.Grants.Issuer(), SealKey: granttest.SealKey})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fresh.JWKS(ctx); err == nil || !strings.Contains(err.Error(), "moved-kid") {
			t.Errorf("a seed moved to another kid: %v", err)
		}
		if _, err := grant.New(s, grant.Config{Issuer: "x", SealKey: []byte("short")}); err == nil {
			t.Error("a 5-byte seal key was accepted")
		}
	})
}
