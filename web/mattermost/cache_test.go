package mattermost

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/clocktest"
	"github.com/countersign/countersign/web/mattermost/mmfake"
)

func TestTTLCacheExpiry(t *testing.T) {
	clk := clocktest.At(captureEnd)
	c := newTTLCache[string](30*time.Second, 10, clk.Now)
	c.put("a", "1")
	clk.Advance(29 * time.Second)
	if v, ok := c.get("a"); !ok || v != "1" {
		t.Errorf("before the TTL: %q %v", v, ok)
	}
	clk.Advance(time.Second)
	if v, ok := c.get("a"); ok {
		t.Errorf("at the TTL: still %q", v)
	}
	if c.len() != 0 {
		t.Errorf("expired entry kept: %d", c.len())
	}
	// Storing again starts a new TTL.
	c.put("a", "2")
	clk.Advance(20 * time.Second)
	c.put("a", "3")
	clk.Advance(20 * time.Second)
	if v, ok := c.get("a"); !ok || v != "3" {
		t.Errorf("refreshed entry: %q %v", v, ok)
	}
}

func TestTTLCacheBounded(t *testing.T) {
	clk := clocktest.At(captureEnd)
	c := newTTLCache[int](time.Minute, 3, clk.Now)
	for i := range 3 {
		c.put(fmt.Sprint(i), i)
	}
	c.get("0") // 0 is now the most recently used; 1 the least
	c.put("3", 3)
	if c.len() != 3 {
		t.Errorf("size %d, want 3", c.len())
	}
	if _, ok := c.get("1"); ok {
		t.Error("the least recently used entry was not evicted")
	}
	for _, k := range []string{"0", "2", "3"} {
		if _, ok := c.get(k); !ok {
			t.Errorf("%s evicted", k)
		}
	}
}

func TestTTLCacheOff(t *testing.T) {
	c := newTTLCache[int](0, 10, time.Now)
	if c != nil {
		t.Fatal("TTL 0 must turn the cache off")
	}
	c.put("a", 1)
	if _, ok := c.get("a"); ok || c.len() != 0 {
		t.Error("a nil cache returned something")
	}
}

func TestTTLCacheConcurrent(t *testing.T) {
	c := newTTLCache[int](time.Minute, 50, time.Now)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				k := fmt.Sprint((g * i) % 100)
				c.put(k, i)
				c.get(k)
			}
		}()
	}
	wg.Wait()
	if c.len() > 50 {
		t.Errorf("size %d above the bound", c.len())
	}
}

func TestConfigRefusesNegativeCacheTTL(t *testing.T) {
	_, err := New(Config{SiteURL: "https://chat.example.com", BotToken: "t", CacheTTL: -time.Second})
	if !errors.Is(err, ErrConfig) {
		t.Errorf("error %v, want ErrConfig", err)
	}
}

// cachedEnv is the fixture world with the lookup cache on and a settable
// clock.
func cachedEnv(t *testing.T, ttl time.Duration) (*env, *clocktest.Clock) {
	clk := clocktest.At(captureEnd)
	e := newEnv(t, func(c *Config) { c.CacheTTL, c.Now = ttl, clk.Now })
	return e, clk
}

// lookups counts the calls a capture made for accounts, bots, channels
// and teams (what the cache may answer), and for posts and membership
// (what it never answers).
func lookups(f *mmfake.Server) (cacheable, fresh int) {
	for _, r := range f.Requests() {
		switch {
		case r.Path == "/api/v4/users/ids", r.Path == "/api/v4/bots/"+mmfake.TestbotID,
			r.Path == "/api/v4/channels/"+mmfake.ChannelID, r.Path == "/api/v4/teams/"+mmfake.TeamID,
			r.Method == "GET" && strings.HasPrefix(r.Path, "/api/v4/users/"):
			cacheable++
		case r.Path == "/api/v4/posts/"+mmfake.RootPostID+"/thread", r.Path == "/api/v4/channels/"+mmfake.ChannelID+"/members/ids":
			fresh++
		}
	}
	return cacheable, fresh
}

// With the cache on, a second capture within the TTL reuses accounts, the
// bot record, channel and team, but reads the posts and membership again;
// once the TTL has passed it asks for everything again.
func TestCaptureCacheWithinAndAfterTTL(t *testing.T) {
	e, clk := cachedEnv(t, 30*time.Second)
	ctx := context.Background()
	req := CaptureRequest{PostRef: mmfake.RootPostID, ChannelID: mmfake.ChannelID}
	first, err := e.client.Capture(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// Accounts, bot record, the bot owner's account, channel, team.
	if c, f := lookups(e.fake); c != 5 || f != 2 {
		t.Errorf("first capture: %d cacheable and %d fresh calls, want 5 and 2", c, f)
	}

	e.fake.ResetRequests()
	clk.Advance(29 * time.Second)
	second, err := e.client.Capture(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if c, f := lookups(e.fake); c != 0 || f != 2 {
		t.Errorf("within the TTL: %d cacheable and %d fresh calls, want 0 and 2", c, f)
	}
	checkPosts(t, second.Posts, fixtureThread)
	if second.Source != first.Source {
		t.Errorf("source %+v, want %+v", second.Source, first.Source)
	}

	e.fake.ResetRequests()
	clk.Advance(time.Second)
	if _, err := e.client.Capture(ctx, req); err != nil {
		t.Fatal(err)
	}
	if c, f := lookups(e.fake); c != 5 || f != 2 {
		t.Errorf("after the TTL: %d cacheable and %d fresh calls, want 5 and 2", c, f)
	}
}

// What the posts say and who is in the channel is never cached: an edit
// and a removal made right after a capture show in the next one, within
// the TTL.
func TestCaptureCacheNeverHidesEditsOrMembership(t *testing.T) {
	e, _ := cachedEnv(t, time.Minute)
	ctx := context.Background()
	req := CaptureRequest{PostRef: mmfake.RootPostID}
	if _, err := e.client.Capture(ctx, req); err != nil {
		t.Fatal(err)
	}
	if err := e.fake.Edit(mmfake.RootPostID, "restart everything instead"); err != nil {
		t.Fatal(err)
	}
	e.fake.RemoveMember(mmfake.ChannelID, mmfake.BobID)
	webhook := e.fake.CommandReply(mmfake.ChannelID, mmfake.RootPostID, mmfake.BobID, "alice", "approved")
	capt, err := e.client.Capture(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range capt.Posts {
		switch {
		case p.PostID == mmfake.RootPostID && (p.Message != "restart everything instead" || p.EditAt == 0):
			t.Errorf("edit not seen: %+v", p)
		case p.AuthorID == mmfake.BobID && p.ChannelMember:
			t.Errorf("bob's removal not seen: %+v", p)
		case p.PostID == webhook.Id && (p.AuthorKind != models.AuthorWebhook || p.AuthorName != "bob" || p.OverrideUsername != "alice"):
			t.Errorf("webhook post by a cached human: %+v", p)
		}
	}
}

// A bot's new owner shows once the TTL has passed (and not before: that
// is the bounded staleness the TTL accepts).
func TestCaptureCacheBotOwnerChange(t *testing.T) {
	e, clk := cachedEnv(t, 30*time.Second)
	ctx := context.Background()
	req := CaptureRequest{PostRef: mmfake.BotReplyPostID}
	owner := func() string {
		t.Helper()
		c, err := e.client.Capture(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return c.Trigger.BotOwnerID
	}
	if got := owner(); got != mmfake.AdminID {
		t.Fatalf("owner %s", got)
	}
	e.fake.AddBotRecord(&model.Bot{UserId: mmfake.TestbotID, Username: "testbot", OwnerId: mmfake.CarolID})
	clk.Advance(10 * time.Second)
	if got := owner(); got != mmfake.AdminID {
		t.Errorf("within the TTL: owner %s, want the cached %s", got, mmfake.AdminID)
	}
	clk.Advance(20 * time.Second)
	if got := owner(); got != mmfake.CarolID {
		t.Errorf("after the TTL: owner %s, want %s", got, mmfake.CarolID)
	}
}

// Failures are not cached: a bot record the bot may not read is asked for
// again by the next capture, and shows once readable.
func TestCaptureCacheDoesNotKeepFailures(t *testing.T) {
	e := newEnv(t, nil)
	other := e.fake.AddBot("plainbot", mmfake.AliceID)
	e.fake.AddMember(mmfake.ChannelID, other.Id)
	c, err := New(Config{SiteURL: e.fake.URL(), BotToken: e.fake.NewToken(other.Id), CacheTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	req := CaptureRequest{PostRef: mmfake.BotReplyPostID}
	capt, err := c.Capture(ctx, req)
	if err != nil || capt.Trigger.BotOwnerID != "" || len(capt.Warnings) != 1 {
		t.Fatalf("unreadable bot: %+v %v", capt, err)
	}
	e.fake.Grant(other.Id, model.PermissionReadOthersBots.Id)
	capt, err = c.Capture(ctx, req)
	if err != nil || capt.Trigger.BotOwnerID != mmfake.AdminID || len(capt.Warnings) != 0 {
		t.Errorf("readable now: owner %q warnings %v err %v", capt.Trigger.BotOwnerID, capt.Warnings, err)
	}
	if n := e.fake.Count("GET", "/api/v4/bots/"+mmfake.TestbotID); n != 2 {
		t.Errorf("bot record asked for %d times, want 2", n)
	}
}

// With CacheTTL 0 every capture asks for everything.
func TestCaptureCacheOff(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for range 2 {
		e.fake.ResetRequests()
		if _, err := e.client.Capture(ctx, CaptureRequest{PostRef: mmfake.RootPostID}); err != nil {
			t.Fatal(err)
		}
		if c, _ := lookups(e.fake); c != 5 {
			t.Errorf("%d cacheable calls, want 5 every time", c)
		}
	}
}

// User hands out a copy: a caller changing it does not change what later
// lookups see. The requester's lookup and the captures share the cache.
func TestUserCachedCopy(t *testing.T) {
	e, _ := cachedEnv(t, time.Minute)
	ctx := context.Background()
	u, err := e.client.User(ctx, mmfake.AliceID)
	if err != nil {
		t.Fatal(err)
	}
	u.Username, u.IsBot = "mallory", true
	again, err := e.client.User(ctx, mmfake.AliceID)
	if err != nil || again.Username != "alice" || again.IsBot {
		t.Errorf("cached user changed by a caller: %+v %v", again, err)
	}
	if n := e.fake.Count("GET", "/api/v4/users/"+mmfake.AliceID); n != 1 {
		t.Errorf("alice fetched %d times, want 1", n)
	}
	e.fake.ResetRequests()
	if _, err := e.client.Capture(ctx, CaptureRequest{PostRef: mmfake.RootPostID}); err != nil {
		t.Fatal(err)
	}
	for _, r := range e.fake.Requests() {
		// The authors but alice, and then the bot's owner (no author).
		if r.Path == "/api/v4/users/ids" && string(r.Body) != fmt.Sprintf("[%q,%q]", mmfake.TestbotID, mmfake.BobID) && string(r.Body) != fmt.Sprintf("[%q,%q]", mmfake.BobID, mmfake.TestbotID) &&
			string(r.Body) != fmt.Sprintf("[%q]", mmfake.AdminID) {
			t.Errorf("users/ids asked for %s; alice was cached", r.Body)
		}
	}
}

// Concurrent captures share the cache safely (run with -race).
func TestCaptureCacheConcurrent(t *testing.T) {
	e, clk := cachedEnv(t, 30*time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%4 == 0 {
				clk.Advance(10 * time.Second)
			}
			c, err := e.client.Capture(context.Background(), CaptureRequest{PostRef: mmfake.RootPostID})
			if err == nil && len(c.Posts) != len(fixtureThread) {
				err = fmt.Errorf("%d posts", len(c.Posts))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
