package mattermost

import (
	"context"
	"testing"
	"time"
)

// TestCallTimeAddsUpMattermostCalls: calls made with a CallTime context
// add their time to it (a slowed fake makes the amount checkable); calls
// without one record nothing anywhere.
func TestCallTimeAddsUpMattermostCalls(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.SetLatency(30 * time.Millisecond)
	ctx, ct := WithCallTime(context.Background())
	if _, err := e.client.BotUserID(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.GetPost(ctx, "nosuchpost0000000000000000"); err == nil {
		t.Fatal("a missing post was found")
	}
	if got := ct.Total(); got < 60*time.Millisecond {
		t.Errorf("two calls of at least 30 ms each added up to %s", got)
	}
	before := ct.Total()
	if _, err := e.client.GetPost(context.Background(), "nosuchpost0000000000000000"); err == nil {
		t.Fatal("a missing post was found")
	}
	if ct.Total() != before {
		t.Error("a call without the CallTime context was added to it")
	}
}
