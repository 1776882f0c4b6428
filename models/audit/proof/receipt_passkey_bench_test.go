package proof_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/countersign/countersign/models/audit/audittest"
	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/models/benchtest"
	"github.com/countersign/countersign/models/storetest"
)

// BenchmarkVerifyPasskeyReceipt is `audit verify-receipt` on a receipt of
// a passkey-signed decision, without the process and file: the JSON read
// (strict), the event's hash, its inclusion proof, the checkpoint's
// signature, the enrolment and revocation events' hashes and proofs, the
// statement and the ES256 signature with the enrolled key. It reports the
// 50th and 99th percentile per receipt.
func BenchmarkVerifyPasskeyReceipt(b *testing.B) {
	s := storetest.SQLite(b).Open(b)
	k := audittest.NewKey(b, audittest.Origin)
	c := audittest.NewCheckpointer(b, s, k)
	w := newPasskeyWorld(b, s)
	audittest.Seed(b, s, 1000, "bench") // a log of realistic depth
	r, err := c.Receipt(context.Background(), w.decisionSeq)
	if err != nil {
		b.Fatal(err)
	}
	data, err := json.Marshal(r)
	if err != nil {
		b.Fatal(err)
	}
	key := k.VerifierKey()
	samples := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		parsed, err := proof.ParseReceipt(data)
		if err == nil {
			err = proof.VerifyReceipt(parsed, key)
		}
		samples = append(samples, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	benchtest.ReportMicros(b, samples)
}
