package mattermost

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/web/mattermost/mmfake"
)

// With the lookup cache on, a DM costs one post: the name lookup and the
// DM channel are asked for once per TTL. Unknown names are asked for every
// time; with the cache off everything is.
func TestDirectMessageLookupsAreCached(t *testing.T) {
	for _, ttl := range []time.Duration{30 * time.Second, 0} {
		e, clk := cachedEnv(t, ttl)
		ctx := context.Background()
		e.fake.ResetRequests()
		for range 3 {
			id, err := e.client.UserIDByUsername(ctx, "@alice")
			if err != nil || id != mmfake.AliceID {
				t.Fatalf("ttl %s: alice is %q, %v", ttl, id, err)
			}
			if _, err := e.client.DirectChannel(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		for range 2 {
			if _, err := e.client.UserIDByUsername(ctx, "nobody"); !errors.Is(err, models.ErrNotFound) {
				t.Fatalf("unknown name: %v", err)
			}
		}
		want := 1
		if ttl == 0 {
			want = 3
		}
		if n := e.fake.Count("GET", "/api/v4/users/username/alice"); n != want {
			t.Errorf("ttl %s: %d name lookups, want %d", ttl, n, want)
		}
		if n := e.fake.Count("POST", "/api/v4/channels/direct"); n != want {
			t.Errorf("ttl %s: %d DM channel calls, want %d", ttl, n, want)
		}
		if n := e.fake.Count("GET", "/api/v4/users/username/nobody"); n != 2 {
			t.Errorf("ttl %s: unknown name asked %d times, want 2 (never cached)", ttl, n)
		}
		if ttl == 0 {
			continue
		}
		clk.Advance(ttl)
		if _, err := e.client.UserIDByUsername(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if n := e.fake.Count("GET", "/api/v4/users/username/alice"); n != 2 {
			t.Errorf("after the TTL: %d lookups, want the name asked again", n)
		}
	}
}
