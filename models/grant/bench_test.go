package grant_test

import (
	"context"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/models/grant/granttest"
	"github.com/countersign/countersign/models/storetest"
)

// BenchmarkMintRedeem measures one grant's life, sequentially: the
// approval that mints it (request moved to approved, grant row and audit
// events in one transaction), deriving the token, and its redemption
// (signature check, compare-and-swap, audit). Requests are created
// outside the timer.
func BenchmarkMintRedeem(b *testing.B) {
	for _, be := range []func(testing.TB) storetest.Backend{storetest.SQLite, storetest.Postgres} {
		backend := be(b)
		b.Run(backend.Name, func(b *testing.B) {
			e := granttest.New(b, backend.Open(b))
			ctx := context.Background()
			ids := make([]string, b.N)
			var params string
			for i := range b.N {
				r := e.Create(b, granttest.NewRequest(granttest.Human, 1))
				ids[i], params = r.ID, r.Params
			}
			hash := grant.ParamsHash(params)
			sys := models.SystemActor("bench")
			b.ResetTimer()
			for i := range b.N {
				if _, err := e.Approvals.Move(ctx, approval.Transition{ID: ids[i], From: models.StatePending, To: models.StateApproved, Actor: sys}); err != nil {
					b.Fatal(err)
				}
				tok, err := e.Grants.Token(ctx, ids[i])
				if err != nil {
					b.Fatal(err)
				}
				if _, err := e.Grants.Redeem(ctx, tok, hash, grant.ExecutorActor("deployer")); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "grants/s")
		})
	}
}
