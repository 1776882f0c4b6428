package passkey_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit/audittest"
	"github.com/countersign/countersign/models/passkey"
	"github.com/countersign/countersign/models/passkey/passkeytest"
	"github.com/countersign/countersign/models/storetest"
)

var (
	alice = models.Actor{Type: models.ActorHuman, ID: "sub-alice", Display: "alice"}
	bob   = models.Actor{Type: models.ActorHuman, ID: "sub-bob", Display: "bob"}
	fresh = passkey.Auth{Time: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	stale = passkey.Auth{Time: time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)}
)

func newService(t *testing.T, s *models.Store) *passkey.Service {
	t.Helper()
	now := time.Date(2026, 12, 7, 10, 1, 0, 0, time.UTC)
	svc, err := passkey.New(s, passkey.Config{RP: rp, Now: func() time.Time { return now }, Fresh: func(a passkey.Auth, at time.Time) error {
		if at.Sub(a.Time) > 5*time.Minute {
			return errors.New("stale")
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestEnrolRenameRevokeAreAuditedAndGuarded(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		if _, err := svc.BeginEnroll(ctx, alice, stale); !errors.Is(err, passkey.ErrNotFresh) {
			t.Fatalf("stale sign-in: %v", err)
		}
		en, err := svc.BeginEnroll(ctx, alice, fresh)
		if err != nil {
			t.Fatal(err)
		}
		if en.Options.Response.AuthenticatorSelection.UserVerification != "required" {
			t.Fatalf("user verification %q", en.Options.Response.AuthenticatorSelection.UserVerification)
		}
		a := passkeytest.New(rp.ID)
		resp := a.Register(en.Options.Response.Challenge, rp.Origins[0])
		if _, err := svc.FinishEnroll(ctx, bob, fresh, en.ID, "x", resp); !errors.Is(err, passkey.ErrChallengeUnknown) {
			t.Fatalf("bob finishing alice's ceremony: %v", err)
		}
		if _, err := svc.FinishEnroll(ctx, alice, fresh, en.ID, "\x00", resp); !errors.Is(err, models.ErrInvalid) {
			t.Fatalf("bad name: %v", err)
		}
		pk, err := svc.FinishEnroll(ctx, alice, fresh, en.ID, " laptop ", resp)
		if err != nil {
			t.Fatal(err)
		}
		if pk.Name != "laptop" || pk.PublicKey != a.PublicKey() || pk.OwnerID != alice.ID {
			t.Fatalf("passkey %+v", pk)
		}
		if _, err := svc.FinishEnroll(ctx, alice, fresh, en.ID, "again", resp); !errors.Is(err, passkey.ErrChallengeUsed) {
			t.Fatalf("ceremony reused: %v", err)
		}
		// Without user verification, no enrolment.
		en2, _ := svc.BeginEnroll(ctx, alice, fresh)
		noUV := passkeytest.New(rp.ID)
		noUV.NoUV = true
		if _, err := svc.FinishEnroll(ctx, alice, fresh, en2.ID, "key", noUV.Register(en2.Options.Response.Challenge, rp.Origins[0])); !errors.Is(err, passkey.ErrNoUserVerification) {
			t.Fatalf("enrolment without UV: %v", err)
		}
		en3, _ := svc.BeginEnroll(ctx, alice, fresh)
		if _, err := svc.FinishEnroll(ctx, alice, fresh, en3.ID, "key", passkeytest.New(rp.ID).Register(en3.Options.Response.Challenge, "https://evil.example")); !errors.Is(err, passkey.ErrRegistration) {
			t.Fatalf("enrolment from another origin: %v", err)
		}
		if err := svc.Rename(ctx, bob, fresh, pk.ID, "mine"); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("bob renaming alice's passkey: %v", err)
		}
		if err := svc.Rename(ctx, alice, fresh, pk.ID, "work laptop"); err != nil {
			t.Fatal(err)
		}
		if err := svc.Revoke(ctx, alice, stale, pk.ID); !errors.Is(err, passkey.ErrNotFresh) {
			t.Fatalf("revoking on a stale sign-in: %v", err)
		}
		if err := svc.Revoke(ctx, alice, fresh, pk.ID); err != nil {
			t.Fatal(err)
		}
		if err := svc.Revoke(ctx, alice, fresh, pk.ID); !errors.Is(err, models.ErrConflict) {
			t.Fatalf("revoked twice: %v", err)
		}
		if n, _ := svc.Active(ctx, alice.ID); n != 0 {
			t.Fatalf("%d active after revocation", n)
		}
		got := audittest.Types(audittest.Events(t, s))
		if want := []string{"passkey.enrolled", "passkey.renamed", "passkey.revoked"}; !slices.Equal(got, want) {
			t.Fatalf("events %v, want %v", got, want)
		}
	})
}

func TestDecisionChallengeExpiresAndIsSingleUse(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		en, err := svc.BeginEnroll(ctx, alice, fresh)
		if err != nil {
			t.Fatal(err)
		}
		a := passkeytest.New(rp.ID)
		if _, err := svc.FinishEnroll(ctx, alice, fresh, en.ID, "key", a.Register(en.Options.Response.Challenge, rp.Origins[0])); err != nil {
			t.Fatal(err)
		}
		want := passkey.Expect{RequestID: "REQ-1", ContentHash: "sha256:ab", Verdict: "approve", ApproverID: alice.ID}
		ch, err := svc.IssueDecision(ctx, want)
		if err != nil {
			t.Fatal(err)
		}
		if ch.Options.UserVerification != "required" || len(ch.Options.AllowedCredentials) != 1 {
			t.Fatalf("request options %+v", ch.Options)
		}
		check := func(at time.Time, w passkey.Expect) error {
			p := passkey.Proof{Nonce: ch.Statement.Nonce, Assertion: a.SignStatement(ch.Statement, rp.Origins[0])}
			return s.WithTx(ctx, func(tx *gorm.DB) error { _, err := svc.CheckDecision(tx, at, w, p); return err })
		}
		issued := ch.Statement.IssuedAt
		if err := check(issued.Add(passkey.DecideTTL+time.Second), want); !errors.Is(err, passkey.ErrChallengeExpired) {
			t.Fatalf("after its lifetime: %v", err)
		}
		bob := want
		bob.ApproverID = "sub-bob"
		if err := check(issued.Add(time.Second), bob); !errors.Is(err, passkey.ErrChallengeUnknown) {
			t.Fatalf("someone else's nonce: %v", err)
		}
		if err := check(issued.Add(time.Second), want); err != nil {
			t.Fatalf("in time: %v", err)
		}
		if err := check(issued.Add(2*time.Second), want); !errors.Is(err, passkey.ErrChallengeUsed) {
			t.Fatalf("twice: %v", err)
		}
		// Issuing a challenge two hours later prunes the old ones.
		later, err := passkey.New(s, passkey.Config{RP: rp, Now: func() time.Time { return issued.Add(2 * time.Hour) }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := later.IssueDecision(ctx, want); err != nil {
			t.Fatal(err)
		}
		var left int64
		if err := s.DB(ctx).Model(&models.PasskeyChallenge{}).Where("id IN ?", []string{ch.Statement.Nonce, en.ID}).Count(&left).Error; err != nil || left != 0 {
			t.Fatalf("%d expired challenges left (%v)", left, err)
		}
	})
}

// TestConcurrentUsesOfOneChallenge: of eight transactions presenting the
// same signed statement at once, exactly one uses the challenge.
func TestConcurrentUsesOfOneChallenge(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		s := b.Open(t)
		svc := newService(t, s)
		en, err := svc.BeginEnroll(ctx, alice, fresh)
		if err != nil {
			t.Fatal(err)
		}
		a := passkeytest.New(rp.ID)
		if _, err := svc.FinishEnroll(ctx, alice, fresh, en.ID, "key", a.Register(en.Options.Response.Challenge, rp.Origins[0])); err != nil {
			t.Fatal(err)
		}
		want := passkey.Expect{RequestID: "REQ-1", ContentHash: "sha256:ab", Verdict: "approve", ApproverID: alice.ID}
		ch, err := svc.IssueDecision(ctx, want)
		if err != nil {
			t.Fatal(err)
		}
		p := passkey.Proof{Nonce: ch.Statement.Nonce, Assertion: a.SignStatement(ch.Statement, rp.Origins[0])}
		stores := []*models.Store{s, b.Open(t)} // two processes
		var ok, used atomic.Int32
		storetest.Race(8, func(i int) {
			err := stores[i%2].WithTx(ctx, func(tx *gorm.DB) error {
				_, err := svc.CheckDecision(tx, ch.Statement.IssuedAt.Add(time.Second), want, p)
				return err
			})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, passkey.ErrChallengeUsed):
				used.Add(1)
			default:
				t.Errorf("use %d: %v", i, err)
			}
		})
		if ok.Load() != 1 || used.Load() != 7 {
			t.Fatalf("%d uses succeeded, %d refused; want 1 and 7", ok.Load(), used.Load())
		}
	})
}
