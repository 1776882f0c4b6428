package mattermost

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/web/mattermost/mmfake"
)

const mePath = "/api/v4/users/me"

func TestRetriesServerErrorsThenSucceeds(t *testing.T) {
	for _, status := range []int{500, 502, 503, 504, 429} {
		e := newEnv(t, nil)
		e.fake.FailNext(2, status)
		id, err := e.client.BotUserID(context.Background())
		if err != nil || id != e.botID {
			t.Errorf("status %d twice then 200: %q %v", status, id, err)
		}
		if n := e.fake.Count("GET", mePath); n != 3 {
			t.Errorf("status %d: %d attempts, want 3", status, n)
		}
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	cases := []struct {
		status int
		is     error
	}{{404, models.ErrNotFound}, {403, models.ErrForbidden}, {400, models.ErrInvalid}, {401, ErrUnauthorized}}
	for _, c := range cases {
		e.fake.ResetRequests()
		e.fake.FailNext(1, c.status)
		_, err := e.client.GetPost(ctx, mmfake.RootPostID)
		if !errors.Is(err, c.is) || errors.Is(err, ErrUnavailable) {
			t.Errorf("status %d: %v, want %v", c.status, err, c.is)
		}
		if n := e.fake.Count("GET", "/api/v4/posts/"+mmfake.RootPostID); n != 1 {
			t.Errorf("status %d: %d attempts, want 1", c.status, n)
		}
	}
	e.fake.ResetRequests()
	if _, err := e.client.GetPost(ctx, mmfake.DeletedPostID); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("deleted post: %v", err)
	}
	if n := e.fake.Count("GET", "/api/v4/posts/"+mmfake.DeletedPostID); n != 1 {
		t.Errorf("a real 404 was tried %d times", n)
	}
}

func TestRetriesExhausted(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxAttempts = 3 })
	e.fake.FailNext(5, 500)
	_, err := e.client.BotUserID(context.Background())
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err %v, want ErrUnavailable", err)
	}
	var me *Error
	if !errors.As(err, &me) || me.Attempts != 3 || me.Status != 500 || !strings.Contains(err.Error(), "status 500 (attempt 3)") {
		t.Errorf("error %v (%+v)", err, me)
	}
	if n := e.fake.Count("GET", mePath); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
	if strings.Contains(err.Error(), e.token) || strings.Contains(e.logs.String(), e.token) {
		t.Error("the bot token leaked into an error or a log")
	}
	if !strings.Contains(e.logs.String(), "retrying") {
		t.Errorf("retries not logged: %s", e.logs)
	}
}

// A slow Mattermost is cut off per attempt, retried, and reported with
// what was tried and how long each attempt had.
func TestTimeoutIsReportedWithContext(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CallTimeout = 40 * time.Millisecond; c.MaxAttempts = 2 })
	e.fake.SetLatency(time.Second)
	_, err := e.client.Capture(context.Background(), CaptureRequest{PostRef: mmfake.RootPostID})
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want ErrUnavailable and DeadlineExceeded", err)
	}
	for _, part := range []string{"capture thread of " + mmfake.RootPostID, "get thread of post " + mmfake.RootPostID, "no answer within 40ms", "attempt 2"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q lacks %q", err, part)
		}
	}
}

// When the caller gives up, that is what the error says: not an outage.
func TestCallerDeadlineStopsRetries(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.BackoffBase = time.Second; c.BackoffMax = time.Second })
	e.fake.FailNext(10, 503)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := e.client.BotUserID(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrUnavailable) {
		t.Errorf("err %v", err)
	}
	if n := e.fake.Count("GET", mePath); n != 1 {
		t.Errorf("%d attempts", n)
	}
}

func TestMattermostDown(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.Close()
	_, err := e.client.Capture(context.Background(), CaptureRequest{PostRef: mmfake.RootPostID})
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("err %v, want ErrUnavailable", err)
	}
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	c := &Client{cfg: Config{BackoffBase: 100 * time.Millisecond, BackoffMax: time.Second}}
	for attempt, base := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 5: time.Second, 60: time.Second} {
		for range 50 {
			d := c.backoff(attempt)
			if d < base/2 || d > base {
				t.Fatalf("attempt %d: wait %v outside [%v, %v]", attempt, d, base/2, base)
			}
		}
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []Config{
		{SiteURL: "", BotToken: "t"},
		{SiteURL: "ftp://chat.example.com", BotToken: "t"},
		{SiteURL: "https://user:pw@chat.example.com", BotToken: "t"},
		{SiteURL: "https://chat.example.com?x=1", BotToken: "t"},
		{SiteURL: "https://chat.example.com"},
		{SiteURL: "https://chat.example.com", BotToken: "t", MaxPosts: 100000},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", cfg, err)
		}
	}
	c, err := New(Config{SiteURL: "https://chat.example.com/mm/", BotToken: "t"})
	if err != nil || c.SiteURL() != "https://chat.example.com/mm" || c.cfg.MaxPosts != DefaultMaxPosts || c.cfg.Window.MaxPosts != DefaultWindowPosts {
		t.Errorf("defaults: %v %+v", err, c)
	}
}
