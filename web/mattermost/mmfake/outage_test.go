package mmfake

import (
	"context"
	"sync"
	"testing"
	"time"
)

// An outage fails every call, with a status or by hanging up, until it
// ends; the calls are recorded with what was answered.
func TestOutage(t *testing.T) {
	s, bot, _ := fixtureWorld(t)
	c := s.Client(bot)
	ctx := context.Background()
	s.Outage(503)
	for range 3 {
		if _, resp, err := c.GetMe(ctx, ""); err == nil || appStatus(resp) != 503 {
			t.Fatalf("during a 503 outage: %v status %d", err, appStatus(resp))
		}
	}
	s.Outage(HangUp)
	if _, resp, err := c.GetMe(ctx, ""); err == nil || appStatus(resp) != 0 {
		t.Fatalf("during a hang-up outage: %v status %d, want a transport error", err, appStatus(resp))
	}
	s.EndOutage()
	if me, _, err := c.GetMe(ctx, ""); err != nil || me.Id != TestbotID {
		t.Fatalf("after the outage: %+v %v", me, err)
	}
	var statuses []int
	for _, r := range s.Requests() {
		if r.Path == "/api/v4/users/me" {
			statuses = append(statuses, r.Status)
			if r.At.IsZero() {
				t.Error("request recorded without its arrival time")
			}
		}
	}
	// Go's transport repeats an idempotent request once when a reused
	// connection is dropped before any answer: one or two hang-ups.
	n := len(statuses)
	if n < 5 || n > 6 || statuses[0] != 503 || statuses[1] != 503 || statuses[2] != 503 || statuses[n-1] != 200 {
		t.Fatalf("recorded %v, want 3×503, 1–2×0 (hung up), 200", statuses)
	}
	for _, st := range statuses[3 : n-1] {
		if st != 0 {
			t.Fatalf("recorded %v, want 3×503, 1–2×0 (hung up), 200", statuses)
		}
	}
}

// MaxInFlight counts requests served at the same time: slow requests sent
// together overlap, one after another they do not.
func TestMaxInFlight(t *testing.T) {
	s, bot, _ := fixtureWorld(t)
	c := s.Client(bot)
	ctx := context.Background()
	s.SetLatency(20 * time.Millisecond)
	for range 3 {
		if _, _, err := c.GetMe(ctx, ""); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.MaxInFlight(); got != 1 {
		t.Fatalf("sequential calls: max in flight %d, want 1", got)
	}
	// Four calls that the fake holds (a long delay that ends when the
	// client gives up) are all in flight at once; then they are let go.
	s.SetLatency(time.Hour)
	s.ResetRequests()
	callCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, _ = c.GetMe(callCtx, "")
		}()
	}
	for s.MaxInFlight() < 4 {
		select {
		case <-time.After(time.Millisecond):
		case <-ctx.Done():
		}
	}
	cancel()
	wg.Wait()
	if got := s.MaxInFlight(); got != 4 {
		t.Fatalf("max in flight %d, want 4", got)
	}
}

// A barrier lets calls through only together: three concurrent calls pass
// a barrier of three, a lone call waits until its client gives up.
func TestBarrier(t *testing.T) {
	s, bot, _ := fixtureWorld(t)
	c := s.Client(bot)
	ctx := context.Background()
	s.ResetRequests()
	s.Barrier(3)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := c.GetMe(ctx, ""); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := s.MaxInFlight(); got != 3 {
		t.Fatalf("max in flight %d, want 3", got)
	}
	s.Barrier(2)
	lone, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, _, err := c.GetMe(lone, "")
		done <- err
	}()
	for {
		s.mu.Lock()
		waiting := s.barrier != nil && s.barrier.arrived == 1
		s.mu.Unlock()
		if waiting {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("a lone call passed a barrier of two")
	}
}
