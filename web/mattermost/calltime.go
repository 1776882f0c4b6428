package mattermost

import (
	"context"
	"sync/atomic"
	"time"
)

// CallTime adds up the time one piece of work (an HTTP request to the
// portal, say) spent waiting for Mattermost's API, so its log line can
// tell Countersign's own time from Mattermost's. Safe for concurrent use.
type CallTime struct{ ns atomic.Int64 }

type callTimeKey struct{}

// WithCallTime returns a context whose Mattermost calls are added to the
// returned CallTime.
func WithCallTime(ctx context.Context) (context.Context, *CallTime) {
	ct := &CallTime{}
	return context.WithValue(ctx, callTimeKey{}, ct), ct
}

// Total is the time spent in Mattermost calls so far.
func (ct *CallTime) Total() time.Duration { return time.Duration(ct.ns.Load()) }

// addCallTime records d on ctx's CallTime, if it has one.
func addCallTime(ctx context.Context, d time.Duration) {
	if ct, ok := ctx.Value(callTimeKey{}).(*CallTime); ok {
		ct.ns.Add(int64(d))
	}
}
