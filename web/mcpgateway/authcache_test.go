package mcpgateway

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countersign/countersign/models/agents"
)

type countingAuth struct {
	calls   atomic.Int32
	revoked atomic.Bool
}

func (c *countingAuth) Authenticate(_ context.Context, h string) (*agents.Agent, error) {
	c.calls.Add(1)
	if h != "Bearer good" || c.revoked.Load() {
		return nil, errors.New("refused")
	}
	return &agents.Agent{Name: "deploy-bot"}, nil
}

func TestAuthCacheRemembersOnlySuccessesAndOnlyBriefly(t *testing.T) {
	next := &countingAuth{}
	c := newAuthCache(next, 50*time.Millisecond)
	ctx := context.Background()
	for range 3 {
		if a, err := c.Authenticate(ctx, "Bearer good"); err != nil || a.Name != "deploy-bot" {
			t.Fatalf("good credential: %v", err)
		}
	}
	if n := next.calls.Load(); n != 1 {
		t.Fatalf("verified %d times within the cache time", n)
	}
	for range 2 {
		if _, err := c.Authenticate(ctx, "Bearer bad"); err == nil {
			t.Fatal("a bad credential passed")
		}
	}
	if n := next.calls.Load(); n != 3 {
		t.Fatalf("a refusal was cached (%d checks)", n)
	}
	// Revoked: refused once the cached verification has run out.
	next.revoked.Store(true)
	time.Sleep(60 * time.Millisecond)
	if _, err := c.Authenticate(ctx, "Bearer good"); err == nil {
		t.Fatal("a revoked credential still passes after the cache time")
	}
}
