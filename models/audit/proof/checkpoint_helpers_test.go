package proof_test

import (
	"errors"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/proof"
)

// referenceRoot computes the root over the first n stored events in memory
// with the library's compact range, independently of Tree.
func referenceRoot(t testing.TB, evs []models.AuditEvent, n int) []byte {
	t.Helper()
	rng := (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewEmptyRange(0)
	for _, ev := range evs[:n] {
		leaf, err := proof.LeafHash(ev.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if err := rng.Append(leaf, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n == 0 {
		return proof.EmptyRoot()
	}
	r, err := rng.GetRootHash(nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// problemOf returns the *audit.Problem in err, failing the test if none.
func problemOf(t testing.TB, err error) *audit.Problem {
	t.Helper()
	var p *audit.Problem
	if !errors.As(err, &p) {
		t.Fatalf("want an *audit.Problem, got %v", err)
	}
	return p
}

func expectProblem(t testing.TB, err error, kind audit.ProblemKind) *audit.Problem {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s problem, got nil", kind)
	}
	p := problemOf(t, err)
	if p.Kind != kind {
		t.Fatalf("want %s problem, got %v", kind, p)
	}
	return p
}
