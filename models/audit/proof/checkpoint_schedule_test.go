package proof_test

import (
	"testing"
	"time"

	"github.com/countersign/countersign/models/audit/proof"
)

func TestNextCheckpoint(t *testing.T) {
	last := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	every := 10 * time.Minute
	for _, tc := range []struct {
		now  time.Duration // after last
		want time.Duration
	}{
		{0, 10 * time.Minute},
		{3 * time.Minute, 10 * time.Minute},
		{10 * time.Minute, 20 * time.Minute},
		{25 * time.Minute, 30 * time.Minute},
		{-time.Minute, 10 * time.Minute},
	} {
		if got := proof.NextCheckpoint(last, every, last.Add(tc.now)); !got.Equal(last.Add(tc.want)) {
			t.Errorf("now last+%s: next %s, want last+%s", tc.now, got.Sub(last), tc.want)
		}
	}
	if !proof.NextCheckpoint(last, 0, last).IsZero() || !proof.NextCheckpoint(time.Time{}, every, last).IsZero() {
		t.Error("no interval or no last checkpoint must give zero")
	}
}
