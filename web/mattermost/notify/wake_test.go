package notify_test

import (
	"context"
	"testing"
	"time"

	"github.com/countersign/countersign/web/mattermost/notify"
)

// TestWakeSendsWithoutWaitingForThePoll: a worker that would look at the
// queue only once an hour sends a request's message as soon as it is
// woken; a wake with nothing queued is harmless, and Wake never blocks.
func TestWakeSendsWithoutWaitingForThePoll(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w := e.workerWith(t, "w1", func(c *notify.WorkerConfig) {
			c.Poll, c.ProbeInterval = time.Hour, time.Hour
			c.Now = time.Now
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); w.Run(ctx) }()
		defer func() { cancel(); <-done }()
		for range 5 {
			w.Wake() // nothing queued yet; later wakes find the buffer full
		}
		time.Sleep(200 * time.Millisecond) // let the worker go idle on its hour-long poll
		r := e.create(t, "restart", 1)
		w.Wake()
		deadline := time.Now().Add(20 * time.Second)
		for len(e.botPosts(e.channel.Id, r.ID)) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the woken worker did not send the request message")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
