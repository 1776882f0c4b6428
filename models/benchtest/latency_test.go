package benchtest

import (
	"testing"
	"time"
)

func TestPercentileIsNearestRank(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 200; i++ {
		s = append(s, time.Duration(i))
	}
	for q, want := range map[float64]time.Duration{0.5: 100, 0.95: 190, 0.99: 198, 1: 200, 0.001: 1} {
		if got := Percentile(s, q); got != want {
			t.Errorf("q=%v: %v, want %v", q, got, want)
		}
	}
	if Percentile(nil, 0.5) != 0 || Percentile([]time.Duration{7}, 0.99) != 7 {
		t.Error("empty or single-sample input")
	}
}
