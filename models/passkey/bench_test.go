package passkey_test

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/benchtest"
	"github.com/countersign/countersign/models/passkey"
	"github.com/countersign/countersign/models/passkey/passkeytest"
	"github.com/countersign/countersign/models/storetest"
)

// BenchmarkVerify is the pure check of one assertion against a statement:
// canonical text, its hash, client data, authenticator data and the ES256
// signature with the COSE key.
func BenchmarkVerify(b *testing.B) {
	a := passkeytest.New(rp.ID)
	st := statement()
	as := a.SignStatement(st, rp.Origins[0])
	key := a.PublicKey()
	samples := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := passkey.Verify(st, as, key, rp); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(t0))
	}
	b.StopTimer()
	benchtest.ReportMicros(b, samples)
}

// BenchmarkCheckDecision is the passkey part of Decide, inside a write
// transaction as Decide runs it: the nonce looked up and used up, the
// credential looked up (owner, revocation), the statement rebuilt and the
// assertion verified, the counter updated. Each iteration first issues a
// fresh statement and signs it (not measured); the percentiles are of
// CheckDecision alone, without the commit.
func BenchmarkCheckDecision(b *testing.B) {
	for _, be := range []func(testing.TB) storetest.Backend{storetest.SQLite, storetest.Postgres} {
		backend := be(b)
		b.Run(backend.Name, func(b *testing.B) {
			s := backend.Open(b)
			ctx := context.Background()
			svc, err := passkey.New(s, passkey.Config{RP: rp, Fresh: func(passkey.Auth, time.Time) error { return nil }})
			if err != nil {
				b.Fatal(err)
			}
			owner := models.Actor{Type: models.ActorHuman, ID: "sub-alice", Display: "alice"}
			en, err := svc.BeginEnroll(ctx, owner, passkey.Auth{})
			if err != nil {
				b.Fatal(err)
			}
			a := passkeytest.New(rp.ID)
			if _, err := svc.FinishEnroll(ctx, owner, passkey.Auth{}, en.ID, "key", a.Register(en.Options.Response.Challenge, rp.Origins[0])); err != nil {
				b.Fatal(err)
			}
			want := passkey.Expect{RequestID: "REQ-BENCH", ContentHash: "sha256:ab", Verdict: "approve", ApproverID: owner.ID}
			samples := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ch, err := svc.IssueDecision(ctx, want)
				if err != nil {
					b.Fatal(err)
				}
				p := passkey.Proof{Nonce: ch.Statement.Nonce, Assertion: a.SignStatement(ch.Statement, rp.Origins[0])}
				err = s.WithTx(ctx, func(tx *gorm.DB) error {
					t0 := time.Now()
					_, err := svc.CheckDecision(tx, time.Now().UTC(), want, p)
					samples = append(samples, time.Since(t0))
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			benchtest.ReportMicros(b, samples)
		})
	}
}
