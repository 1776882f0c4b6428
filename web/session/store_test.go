package session

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/clocktest"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/oidcrp"
)

// newClock returns the test clock, standing at the start of a working day.
func newClock() *clocktest.Clock { return clocktest.At(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) }

func newTestStore(t *testing.T, db *models.Store, c *clocktest.Clock) *Store {
	t.Helper()
	s, err := NewStore(db, Config{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// eachStore runs test on a fresh session store over each test database
// (storetest.Each), with the database under it and the store's clock.
func eachStore(t *testing.T, test func(t *testing.T, s *Store, db *models.Store, c *clocktest.Clock)) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		db, c := b.Open(t), newClock()
		test(t, newTestStore(t, db, c), db, c)
	})
}

// create opens an anonymous session, failing the test if it cannot.
func create(t *testing.T, s *Store) *Session {
	t.Helper()
	sess, err := s.Create(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sess
}

func alice() *User {
	return &User{Subject: "sub-alice", Issuer: "https://idp.test", Username: "alice", Name: "Alice", Roles: []string{"approver"},
		AuthTime: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), ACR: "urn:acr:mfa", AMR: []string{"pwd", "otp"}, IDTokenHash: "abc"}
}

// signIn signs alice in on anon, failing the test if it cannot.
func signIn(t *testing.T, s *Store, anon *Session) *Session {
	t.Helper()
	sess, err := s.SignIn(context.Background(), anon, alice(), "raw.id.token")
	if err != nil {
		t.Fatal(err)
	}
	return sess
}

// keepActive loads sess every 20 minutes for span, failing the test if
// the session ends before.
func keepActive(t *testing.T, s *Store, c *clocktest.Clock, sess *Session, span time.Duration) {
	t.Helper()
	for elapsed := time.Duration(0); elapsed < span; elapsed += 20 * time.Minute {
		c.Advance(20 * time.Minute)
		if _, err := s.Load(context.Background(), sess.id); err != nil {
			t.Fatalf("active session ended after %s: %v", elapsed+20*time.Minute, err)
		}
	}
}

// wantGone fails the test unless loading id finds no session.
func wantGone(t *testing.T, s *Store, id, what string) {
	t.Helper()
	if _, err := s.Load(context.Background(), id); !errors.Is(err, ErrNoSession) {
		t.Errorf("%s: %v, want ErrNoSession", what, err)
	}
}

// rows returns every stored row, to check what is kept at rest.
func rows(t *testing.T, db *models.Store) []row {
	t.Helper()
	var rs []row
	if err := db.DB(context.Background()).Find(&rs).Error; err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestCreateStoresOnlyTheHashOfTheID(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, db *models.Store, c *clocktest.Clock) {
		ctx := context.Background()
		sess := create(t, s)
		if !wellFormed(sess.id) || !wellFormed(sess.CSRFToken) || sess.id == sess.CSRFToken {
			t.Fatalf("id/csrf are not two independent 32-byte secrets")
		}
		rs := rows(t, db)
		if len(rs) != 1 {
			t.Fatalf("%d rows", len(rs))
		}
		if rs[0].IDHash != hashID(sess.id) || strings.Contains(rs[0].IDHash, sess.id) {
			t.Error("the row does not hold exactly the hash of the id")
		}
		if got := sess.String(); strings.Contains(got, sess.id) || strings.Contains(got, sess.CSRFToken) {
			t.Errorf("String() leaks a secret: %s", got)
		}
		loaded, err := s.Load(ctx, sess.id)
		if err != nil {
			t.Fatal(err)
		}
		if loaded.SignedIn() || loaded.CSRFToken != sess.CSRFToken {
			t.Errorf("loaded %v", loaded)
		}
		if !loaded.ExpiresAt.Equal(c.Now().Add(DefaultIdleTimeout)) || !loaded.AbsoluteExpiresAt.Equal(c.Now().Add(DefaultAbsoluteTimeout)) {
			t.Errorf("deadlines %s / %s", loaded.ExpiresAt, loaded.AbsoluteExpiresAt)
		}
	})
}

func TestLoadRefusesUnknownAndMalformedIDs(t *testing.T) {
	s := newTestStore(t, storetest.SQLite(t).Open(t), newClock())
	other, _ := newSecret()
	for _, id := range []string{"", "x", other, other + "=", strings.Repeat("A", 44), "../../etc/passwd"} {
		if _, err := s.Load(context.Background(), id); !errors.Is(err, ErrNoSession) {
			t.Errorf("Load(%q) = %v, want ErrNoSession", id, err)
		}
	}
}

func TestIdleTimeout(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, db *models.Store, c *clocktest.Clock) {
		sess := create(t, s)
		// Activity every 20 minutes keeps it alive past the idle timeout...
		keepActive(t, s, c, sess, 80*time.Minute)
		// ...half an hour of silence ends it, and the row is deleted.
		c.Advance(DefaultIdleTimeout)
		wantGone(t, s, sess.id, "idle session")
		if n := len(rows(t, db)); n != 0 {
			t.Errorf("expired row kept: %d rows", n)
		}
	})
}

func TestAbsoluteTimeoutEndsAnActiveSession(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, db *models.Store, c *clocktest.Clock) {
		sess := signIn(t, s, create(t, s))
		keepActive(t, s, c, sess, DefaultAbsoluteTimeout-20*time.Minute)
		c.Advance(20 * time.Minute)
		wantGone(t, s, sess.id, "session older than the absolute timeout")
	})
}

func TestDeleteExpiredAndSweepOnCreate(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, db *models.Store, c *clocktest.Clock) {
		ctx := context.Background()
		for i := 0; i < 3; i++ {
			if _, err := s.Create(ctx); err != nil {
				t.Fatal(err)
			}
		}
		c.Advance(DefaultIdleTimeout + time.Minute)
		fresh, err := s.Create(ctx) // sweeps the three expired ones
		if err != nil {
			t.Fatal(err)
		}
		rs := rows(t, db)
		if len(rs) != 1 || rs[0].IDHash != fresh.idHash {
			t.Fatalf("after the sweep %d rows remain, want only the fresh one", len(rs))
		}
		c.Advance(DefaultIdleTimeout)
		if n, err := s.DeleteExpired(ctx); err != nil || n != 1 {
			t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
		}
	})
}

func TestSignInRotatesTheIDAndKeepsNothingPending(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, db *models.Store, c *clocktest.Clock) {
		ctx := context.Background()
		anon := create(t, s)
		if err := s.SetPending(ctx, anon, PendingLogin{OIDC: oidcrp.Pending{State: "s", Nonce: "n", Verifier: "v"}, Next: "/x"}, nil); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Minute)
		sess := signIn(t, s, anon)
		if sess.id == anon.id || sess.CSRFToken == anon.CSRFToken {
			t.Fatal("sign-in kept the id or the CSRF token")
		}
		wantGone(t, s, anon.id, "pre-login id")
		got, err := s.Load(ctx, sess.id)
		if err != nil {
			t.Fatal(err)
		}
		want := alice()
		if got.User == nil || got.User.Subject != want.Subject || got.User.Username != "alice" || !got.User.AuthTime.Equal(want.AuthTime) ||
			got.User.ACR != want.ACR || strings.Join(got.User.AMR, " ") != "pwd otp" || got.User.IDTokenHash != "abc" || got.IDToken != "raw.id.token" {
			t.Errorf("user after reload = %+v", got.User)
		}
		if !got.AbsoluteExpiresAt.Equal(c.Now().Add(DefaultAbsoluteTimeout)) {
			t.Errorf("sign-in must start a new absolute window, got %s", got.AbsoluteExpiresAt)
		}
		if _, _, err := s.TakePending(ctx, sess); !errors.Is(err, ErrNoPending) {
			t.Errorf("pending sign-in survived the rotation: %v", err)
		}
		if rs := rows(t, db); len(rs) != 1 || rs[0].Subject != "sub-alice" {
			t.Errorf("rows after sign-in: %d", len(rs))
		}

		// A step-up rotates again but keeps the absolute deadline.
		c.Advance(time.Hour)
		again, err := s.Reauthenticate(ctx, got, got.User, "raw.id.token.2")
		if err != nil {
			t.Fatal(err)
		}
		if again.id == got.id || !again.AbsoluteExpiresAt.Equal(got.AbsoluteExpiresAt) {
			t.Errorf("step-up: id rotated %v, absolute %s (was %s)", again.id != got.id, again.AbsoluteExpiresAt, got.AbsoluteExpiresAt)
		}
		wantGone(t, s, got.id, "pre-step-up id")
		// Rotating a session that is gone fails.
		if _, err := s.SignIn(ctx, got, alice(), ""); !errors.Is(err, ErrNoSession) {
			t.Errorf("rotating a deleted session: %v, want ErrNoSession", err)
		}
	})
}

func TestTakePendingIsOneTimeEvenConcurrently(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store, db *models.Store, c *clocktest.Clock) {
		ctx := context.Background()
		sess := create(t, s)
		maxAge := 5 * time.Minute
		login := PendingLogin{OIDC: oidcrp.Pending{State: "st", Nonce: "no", Verifier: "ve", IssuedAt: c.Now(),
			Options: oidcrp.AuthOptions{Prompt: "login", MaxAge: &maxAge, ACRValues: []string{"urn:acr:mfa"}}}, StepUp: true, Next: "/requests/R"}
		dec := &PendingDecision{RequestID: "R", Verdict: "approve", ContentHash: "h", ChallengedAt: c.Now(), Issuer: "iss", Subject: "sub"}
		if err := s.SetPending(ctx, sess, login, dec); err != nil {
			t.Fatal(err)
		}
		const n = 8
		var wg sync.WaitGroup
		results := make(chan error, n)
		var got PendingLogin
		var gotDec *PendingDecision
		var mu sync.Mutex
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l, d, err := s.TakePending(ctx, sess)
				if err == nil {
					mu.Lock()
					got, gotDec = l, d
					mu.Unlock()
				}
				results <- err
			}()
		}
		wg.Wait()
		close(results)
		ok := 0
		for err := range results {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, ErrNoPending):
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d takers got the pending sign-in, want exactly 1", ok)
		}
		if got.OIDC.State != "st" || got.OIDC.Verifier != "ve" || !got.StepUp || *got.OIDC.Options.MaxAge != maxAge ||
			gotDec == nil || gotDec.RequestID != "R" || gotDec.Subject != "sub" || !gotDec.ChallengedAt.Equal(dec.ChallengedAt) {
			t.Errorf("round trip changed the pending sign-in: %+v %+v", got, gotDec)
		}
	})
}

func TestSetPendingReplacesAndNeedsTheSession(t *testing.T) {
	s := newTestStore(t, storetest.SQLite(t).Open(t), newClock())
	ctx := context.Background()
	sess := create(t, s)
	_ = s.SetPending(ctx, sess, PendingLogin{OIDC: oidcrp.Pending{State: "first"}}, &PendingDecision{RequestID: "R"})
	_ = s.SetPending(ctx, sess, PendingLogin{OIDC: oidcrp.Pending{State: "second"}}, nil)
	l, d, err := s.TakePending(ctx, sess)
	if err != nil || l.OIDC.State != "second" || d != nil {
		t.Fatalf("TakePending = %+v %+v %v, want only the latest sign-in", l, d, err)
	}
	if err := s.Delete(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPending(ctx, sess, PendingLogin{}, nil); !errors.Is(err, ErrNoSession) {
		t.Errorf("SetPending on a deleted session: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	db := storetest.SQLite(t).Open(t)
	for name, cfg := range map[string]Config{
		"idle longer than absolute": {IdleTimeout: 2 * time.Hour, AbsoluteTimeout: time.Hour},
		"idle under a minute":       {IdleTimeout: time.Second},
	} {
		if _, err := NewStore(db, cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewStore(nil, Config{}); err == nil {
		t.Error("nil database accepted")
	}
}
