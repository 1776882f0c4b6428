package mcpgateway_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/countersign/countersign/models/benchtest"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/mcpexample"
)

// percentile returns the p-th percentile (0-100, nearest rank) of ds,
// which it leaves unsorted.
func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return benchtest.Percentile(s, p/100)
}

// BenchmarkUngatedOverhead calls service_status directly on the upstream
// and through the gateway, alternating in every iteration, so both see
// the same machine at the same moment; it reports both p50/p99 and the
// difference of the p99s (the gateway's overhead).
//
//	go test ./web/mcpgateway -run '^$' -bench UngatedOverhead -benchtime 2000x
func BenchmarkUngatedOverhead(b *testing.B) {
	r := newBenchRig(b)
	ctx := context.Background()
	viaGateway := r.connect("deploy-bot")
	direct, err := mcp.NewClient(&mcp.Implementation{Name: "direct"}, nil).Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint: r.upstream.URL, HTTPClient: &http.Client{Transport: headerRT{h: r.upstream.Headers}}, MaxRetries: -1,
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer direct.Close()
	args := &mcp.CallToolParams{Name: mcpexample.ToolStatus, Arguments: map[string]any{"service": "api"}}
	for range 50 { // warm both paths
		_, _ = direct.CallTool(ctx, args)
		_, _ = viaGateway.CallTool(ctx, args)
	}
	var d, g []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if res, err := direct.CallTool(ctx, args); err != nil || res.IsError {
			b.Fatal(err)
		}
		t1 := time.Now()
		if res, err := viaGateway.CallTool(ctx, args); err != nil || res.IsError {
			b.Fatal(err)
		}
		t2 := time.Now()
		d, g = append(d, t1.Sub(t0)), append(g, t2.Sub(t1))
	}
	b.StopTimer()
	us := func(x time.Duration) float64 { return float64(x.Microseconds()) }
	b.ReportMetric(us(percentile(d, 50)), "direct-p50-us")
	b.ReportMetric(us(percentile(d, 99)), "direct-p99-us")
	b.ReportMetric(us(percentile(g, 50)), "gateway-p50-us")
	b.ReportMetric(us(percentile(g, 99)), "gateway-p99-us")
	b.ReportMetric(us(percentile(g, 99)-percentile(d, 99)), "overhead-p99-us")
}

// BenchmarkHeldCallAfterApproval holds a call that needs approval,
// approves it and measures how long after the approval was recorded
// (Decide returned) the agent has its answer: the poll, the grant's
// redemption, the forward and the recorded execution.
//
//	go test ./web/mcpgateway -run '^$' -bench HeldCallAfterApproval -benchtime 30x
func BenchmarkHeldCallAfterApproval(b *testing.B) {
	r := newBenchRig(b)
	cs := r.connect("deploy-bot")
	var lat []time.Duration
	for i := 0; i < b.N; i++ {
		svc := fmt.Sprintf("svc-%d", i)
		ch := make(chan time.Time, 1)
		go func() {
			_, _ = cs.CallTool(context.Background(), &mcp.CallToolParams{Name: mcpexample.ToolRestart, Arguments: restartArgs(svc, "prod")})
			ch <- time.Now()
		}()
		id := r.waitPending()
		r.approve(id)
		approved := time.Now()
		done := <-ch
		lat = append(lat, done.Sub(approved))
		if r.ops.Restarts(svc, "prod") != 1 {
			b.Fatalf("%s ran %d times", svc, r.ops.Restarts(svc, "prod"))
		}
	}
	ms := func(x time.Duration) float64 { return float64(x.Microseconds()) / 1000 }
	b.ReportMetric(ms(percentile(lat, 50)), "answer-p50-ms")
	b.ReportMetric(ms(percentile(lat, 99)), "answer-p99-ms")
	b.ReportMetric(ms(slices.Max(lat)), "answer-max-ms")
}

type headerRT struct{ h map[string]string }

func (x headerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range x.h {
		r.Header.Set(k, v)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// newBenchRig is newRig for a benchmark: SQLite, the gateway's default
// poll and a long hold.
func newBenchRig(b *testing.B) *rig {
	return newRig(b, storetest.SQLite(b).Open(b), holdFor(30*time.Second), func(r *rig) { r.poll = 0 })
}
