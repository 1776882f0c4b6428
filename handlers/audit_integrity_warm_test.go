package handlers_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/countersign/countersign/handlers"
	"github.com/countersign/countersign/models/audit/proof"
)

// TestIntegrityPageUsesTheWarmedCache: the portal answers /audit/integrity
// from the cache it is given, which serve verifies in full at start; the
// first visit after a start is then a cache hit, not a recomputation of
// the whole tree on the request path.
func TestIntegrityPageUsesTheWarmedCache(t *testing.T) {
	t.Parallel()
	var cache *proof.IntegrityCache
	var cp *proof.Checkpointer
	e := newPortalEnv(t, func(o *handlers.Options) {
		key, err := proof.LoadOrCreateKey(t.TempDir(), "cs.example.com/audit")
		if err != nil {
			t.Fatal(err)
		}
		cp, err = proof.NewCheckpointer(o.Portal.Store, key)
		if err != nil {
			t.Fatal(err)
		}
		o.Portal.Checkpoints, cache = cp, proof.NewIntegrityCache(cp, 0)
		o.Portal.Integrity = cache
	})
	e.seed(t, "carol", 1)
	ctx := context.Background()
	if _, err := cp.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cache.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	warm := cache.Stats()
	v := e.signedIn(t, e.mfa(t, "dave"))
	if p := v.get(t, "/audit/integrity"); p.status != http.StatusOK {
		t.Fatalf("integrity page: %d", p.status)
	}
	got := cache.Stats()
	if got.Full != warm.Full || got.Hits != warm.Hits+1 {
		t.Fatalf("stats after the first visit %+v (warmed %+v): want one hit and no full pass", got, warm)
	}
}
