package mattermost

import (
	"context"
	"errors"
	"testing"

	"github.com/countersign/countersign/web/mattermost/mmfake"
)

// Ping makes exactly one call however Mattermost fails (the client's
// retries are for single operations, not for a probe that runs again
// anyway), and classifies the failure like any call.
func TestPingIsOneCallAndClassifiesFailures(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxAttempts = 5 })
	ctx := context.Background()
	if err := e.client.Ping(ctx); err != nil {
		t.Fatalf("ping while up: %v", err)
	}
	for _, tc := range []struct {
		status int
		want   error
	}{
		{503, ErrUnavailable},
		{429, ErrUnavailable},
		{mmfake.HangUp, ErrUnavailable},
	} {
		e.fake.Outage(tc.status)
		e.fake.ResetRequests()
		err := e.client.Ping(ctx)
		if !errors.Is(err, tc.want) {
			t.Errorf("outage %d: %v, want %v", tc.status, err, tc.want)
		}
		// A hang-up may be repeated once by Go's transport itself.
		if n := e.fake.Count("GET", mePath); n < 1 || n > 2 || (tc.status != mmfake.HangUp && n != 1) {
			t.Errorf("outage %d: %d calls, want one probe", tc.status, n)
		}
	}
	e.fake.EndOutage()
	c, err := New(Config{SiteURL: e.fake.URL(), BotToken: "not-a-token"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("refused token: %v, want ErrUnauthorized", err)
	}
	if err := e.client.Ping(ctx); err != nil {
		t.Errorf("ping after the outage: %v", err)
	}
}
