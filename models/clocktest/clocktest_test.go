package clocktest

import (
	"testing"
	"time"
)

func TestAtStandsStillUntilAdvanced(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	c := At(start)
	if !c.Now().Equal(start) {
		t.Fatalf("Now = %s, want %s", c.Now(), start)
	}
	c.Advance(time.Minute)
	if want := start.Add(time.Minute); !c.Now().Equal(want) {
		t.Fatalf("after Advance: %s, want %s", c.Now(), want)
	}
}

func TestWallFollowsTheWallClockPlusTheAdvance(t *testing.T) {
	c := Wall()
	c.Advance(time.Hour)
	before := time.Now().Add(time.Hour)
	got := c.Now()
	after := time.Now().Add(time.Hour)
	if got.Before(before) || got.After(after) {
		t.Fatalf("Now = %s, want between %s and %s", got, before, after)
	}
}
