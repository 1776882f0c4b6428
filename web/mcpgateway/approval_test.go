package mcpgateway_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/contenthash"
	"github.com/countersign/countersign/models/execution"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/mcpexample"
	"github.com/countersign/countersign/web/mcpgateway"
)

// callAsync calls in the background and returns where the result lands.
func (r *rig) callAsync(cs *mcp.ClientSession, tool string, args map[string]any, meta mcp.Meta) <-chan *mcp.CallToolResult {
	ch := make(chan *mcp.CallToolResult, 1)
	go func() {
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Meta: meta, Name: tool, Arguments: args})
		if err != nil {
			res = &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "client error: " + err.Error()}}}
		}
		ch <- res
	}()
	return ch
}

func wait(t *testing.T, ch <-chan *mcp.CallToolResult) *mcp.CallToolResult {
	t.Helper()
	select {
	case res := <-ch:
		return res
	case <-time.After(20 * time.Second):
		t.Fatal("the held call never answered")
		return nil
	}
}

func TestHeldCallRunsOnceApprovedWithTheObservedChain(t *testing.T) {
	for _, kind := range []string{"http", "stdio"} {
		t.Run(kind, func(t *testing.T) {
			opts := []rigOption{holdFor(15 * time.Second)}
			if kind == "stdio" {
				opts = append(opts, stdio)
			}
			r := newRig(t, storetest.SQLite(t).Open(t), opts...)
			var progress atomic.Int32
			cs := r.connectWith("deploy-bot", &mcp.ClientOptions{ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) { progress.Add(1) }})
			// What the agent looked at first is observed.
			r.call(cs, mcpexample.ToolStatus, map[string]any{"service": "api"}, nil)
			params := &mcp.CallToolParams{Name: mcpexample.ToolRestart, Arguments: restartArgs("api", "prod"), Meta: mcp.Meta{mcpgateway.MetaPurpose: "OOM loop, INC-4211"}}
			params.SetProgressToken("p1")
			ch := make(chan *mcp.CallToolResult, 1)
			go func() {
				res, err := cs.CallTool(context.Background(), params)
				if err != nil {
					res = &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: err.Error()}}}
				}
				ch <- res
			}()
			id := r.waitPending()
			req := r.request(id)
			if req.Purpose != "OOM loop, INC-4211" || req.Action != "restart" || req.Params != `{"env":"prod","service":"api"}` {
				t.Fatalf("request %+v", req)
			}
			if len(req.ToolCalls) != 1 || req.ToolCalls[0].Tool != mcpexample.ToolStatus || req.ToolCalls[0].ObservedBy != models.ToolCallObserved ||
				req.ToolCalls[0].Input != `{"service":"api"}` || !strings.HasPrefix(req.ToolCalls[0].OutputDigest, "sha256:") {
				t.Fatalf("observed chain %+v", req.ToolCalls)
			}
			want, _ := contenthash.Hash(contenthash.OfRequest(req, req.Posts, req.ToolCalls))
			if want != req.ContentHash {
				t.Fatal("the content hash does not cover the observed chain as stored")
			}
			if r.ops.Restarts("api", "") != 0 && kind == "http" {
				t.Fatal("ran before approval")
			}
			time.Sleep(250 * time.Millisecond)
			r.approve(id)
			res := wait(t, ch)
			st, rid := status(res)
			var out mcpexample.RestartOutput
			structured(t, res, &out)
			if res.IsError || st != "executed" || rid != id || out.Restarts != 1 || out.Env != "prod" {
				t.Fatalf("held call answered %q %q %+v %s", st, rid, out, text(res))
			}
			if progress.Load() == 0 {
				t.Fatal("no progress notification while held")
			}
			if req := r.request(id); req.State != models.StateExecuted {
				t.Fatalf("request is %s", req.State)
			}
			// The restart now shows in the upstream's own count.
			var s mcpexample.StatusOutput
			structured(t, r.call(cs, mcpexample.ToolStatus, map[string]any{"service": "api"}, nil), &s)
			if s.Restarts != 1 {
				t.Fatalf("upstream restarted %d times", s.Restarts)
			}
		})
	}
}

// A call held longer than the hold is answered "pending" with what to
// resume with; the agent's next identical call runs it once approved.
func TestHeldTooLongThenResumedWithTheSameCall(t *testing.T) {
	r := newRig(t, storetest.SQLite(t).Open(t), holdFor(150*time.Millisecond))
	cs := r.connect("deploy-bot")
	res := r.call(cs, mcpexample.ToolRestart, restartArgs("api", "prod"), nil)
	st, id := status(res)
	if !res.IsError || st != "pending_approval" || id == "" || !strings.Contains(text(res), "same arguments") || res.Meta[mcpgateway.MetaURL] != "https://countersign.test/requests/"+id {
		t.Fatalf("held call answered %q %q %v", st, text(res), res.Meta)
	}
	// Still waiting: the same call finds the same request, nothing new.
	if st2, id2 := status(r.call(cs, mcpexample.ToolRestart, restartArgs("api", "prod"), nil)); st2 != "pending_approval" || id2 != id {
		t.Fatalf("second call: %q %q (want %s)", st2, id2, id)
	}
	r.approve(id)
	res = r.call(cs, mcpexample.ToolRestart, map[string]any{"env": "prod", "service": "api"}, nil)
	if st, rid := status(res); res.IsError || st != "executed" || rid != id {
		t.Fatalf("resumed call: %q %q %s", st, rid, text(res))
	}
	if r.ops.Restarts("api", "prod") != 1 {
		t.Fatalf("ran %d times", r.ops.Restarts("api", "prod"))
	}
}

func TestArgumentsChangedAfterApprovalAreRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		r := newRig(t, b.Open(t), holdFor(100*time.Millisecond))
		cs := r.connect("deploy-bot")
		_, id := status(r.call(cs, mcpexample.ToolRestart, restartArgs("api", "prod"), nil))
		r.approve(id)
		// The agent resumes the approved request with other arguments.
		res := r.call(cs, mcpexample.ToolRestart, restartArgs("billing", "prod"), mcp.Meta{mcpgateway.MetaRequest: id})
		if st, _ := status(res); !res.IsError || st != "refused" || !strings.Contains(text(res), "differ from the ones approved") {
			t.Fatalf("changed arguments answered %q %s", st, text(res))
		}
		if r.ops.Restarts("billing", "") != 0 || r.ops.Restarts("api", "") != 0 {
			t.Fatal("a call with changed arguments ran")
		}
		if r.events("grant.refused", id) != 1 {
			t.Fatal("the refusal is not audited")
		}
		// The grant is still unspent: the exact approved call runs.
		res = r.call(cs, mcpexample.ToolRestart, restartArgs("api", "prod"), mcp.Meta{mcpgateway.MetaRequest: id})
		if st, _ := status(res); res.IsError || st != "executed" || r.ops.Restarts("api", "prod") != 1 {
			t.Fatalf("exact call after a refused one: %q %s", st, text(res))
		}
	})
}

func TestReplayedApprovalRunsNothingTwice(t *testing.T) {
	r := newRig(t, storetest.SQLite(t).Open(t), holdFor(100*time.Millisecond))
	cs := r.connect("deploy-bot")
	_, id := status(r.call(cs, mcpexample.ToolRestart, restartArgs("api", "prod"), nil))
	r.approve(id)
	if st, _ := status(r.call(cs, mcpexample.ToolRestart, restartArgs("api", "prod"), nil)); st != "executed" {
		t.Fatalf("first run: %q", st)
	}
	// Replaying the approved request by name: it ran already.
	res := r.call(cs, mcpexample.ToolRestart, restartArgs("api", "prod"), mcp.Meta{mcpgateway.MetaRequest: id})
	if st, rid := status(res); !res.IsError || st != "executed" || rid != id || !strings.Contains(text(res), "ran already") {
		t.Fatalf("replay answered %q %q %s", st, rid, text(res))
	}
	// The same call without naming it is a new request that waits.
	res = r.call(cs, mcpexample.ToolRestart, restartArgs("api", "prod"), nil)
	if st, rid := status(res); st != "pending_approval" || rid == id {
		t.Fatalf("a new identical call: %q %q", st, rid)
	}
	if n := r.ops.Restarts("api", "prod"); n != 1 {
		t.Fatalf("ran %d times", n)
	}
	if r.events("grant.redeemed", id) != 1 {
		t.Fatal("the grant was redeemed more than once")
	}
}

func TestDeniedThenRetriedCall(t *testing.T) {
	r := newRig(t, storetest.SQLite(t).Open(t), holdFor(5*time.Second))
	cs := r.connect("deploy-bot")
	ch := r.callAsync(cs, mcpexample.ToolRestart, restartArgs("api", "prod"), nil)
	id := r.waitPending()
	r.decide(id, models.VerdictDeny)
	res := wait(t, ch)
	if st, rid := status(res); !res.IsError || st != "refused" || rid != id || !strings.Contains(text(res), "denied") {
		t.Fatalf("denied held call answered %q %q %s", st, rid, text(res))
	}
	// A retry is a new request for approvers; the denial is not undone.
	ch = r.callAsync(cs, mcpexample.ToolRestart, restartArgs("api", "prod"), nil)
	var id2 string
	deadline := time.Now().Add(10 * time.Second)
	for id2 == "" || id2 == id {
		if time.Now().After(deadline) {
			t.Fatal("the retry opened no new request")
		}
		id2 = r.waitPending()
	}
	if r.request(id).State != models.StateDenied {
		t.Fatal("the denied request changed")
	}
	r.approve(id2)
	if res := wait(t, ch); res.IsError || r.ops.Restarts("api", "prod") != 1 {
		t.Fatalf("approved retry: %s", text(res))
	}
}

func TestTwoAgentsSessionsAreKeptApart(t *testing.T) {
	r := newRig(t, storetest.SQLite(t).Open(t), holdFor(100*time.Millisecond))
	a := r.connect("deploy-bot")
	r.call(a, mcpexample.ToolStatus, map[string]any{"service": "secret-a"}, nil)
	_, idA := status(r.call(a, mcpexample.ToolRestart, restartArgs("api", "prod"), nil))
	r.approve(idA)

	b := r.connect("other-bot")
	// The same call by another agent does not ride on deploy-bot's approval.
	res := r.call(b, mcpexample.ToolRestart, restartArgs("api", "prod"), nil)
	st, idB := status(res)
	if st != "pending_approval" || idB == idA {
		t.Fatalf("other-bot's call: %q %q", st, idB)
	}
	// Nor does naming deploy-bot's request.
	res = r.call(b, mcpexample.ToolRestart, restartArgs("api", "prod"), mcp.Meta{mcpgateway.MetaRequest: idA})
	if st, rid := status(res); st != "pending_approval" || rid == idA {
		t.Fatalf("other-bot naming deploy-bot's request: %q %q", st, rid)
	}
	if r.ops.Restarts("api", "") != 0 {
		t.Fatal("another agent's call ran on deploy-bot's approval")
	}
	// other-bot's request carries only other-bot's observed calls.
	for _, c := range r.request(idB).ToolCalls {
		if strings.Contains(c.Input, "secret-a") {
			t.Fatal("deploy-bot's call is in other-bot's chain")
		}
	}
	// other-bot cannot continue deploy-bot's MCP session.
	sid := a.ID()
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL, strings.NewReader(`{"jsonrpc":"2.0","id":9,"method":"tools/list","params":{}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("Authorization", "Bearer "+r.keys["other-bot"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("other-bot on deploy-bot's session: %d", resp.StatusCode)
	}
	// deploy-bot's approved call still runs, once.
	if st, _ := status(r.call(a, mcpexample.ToolRestart, restartArgs("api", "prod"), nil)); st != "executed" || r.ops.Restarts("api", "prod") != 1 {
		t.Fatalf("deploy-bot's own call: %q", st)
	}
}

func TestUpstreamThatHangsOrFails(t *testing.T) {
	r := newRig(t, storetest.SQLite(t).Open(t), holdFor(100*time.Millisecond))
	r.hang = make(chan struct{}) // slow_restart never answers in time
	cs := r.connect("deploy-bot")
	_, id := status(r.call(cs, "slow_restart", map[string]any{"service": "api"}, nil))
	r.approve(id)
	res := r.call(cs, "slow_restart", map[string]any{"service": "api"}, nil)
	if st, _ := status(res); !res.IsError || st != "failed" || !strings.Contains(text(res), "did not answer") {
		t.Fatalf("hung upstream answered %q %s", st, text(res))
	}
	ex, err := r.execs.Get(context.Background(), id)
	if err != nil || ex.State != execution.StateFailed || r.request(id).State != models.StateFailed {
		t.Fatalf("execution after a hang: %+v %v", ex, err)
	}
	if strings.Contains(ex.Error, "upstream-only-secret") {
		t.Fatal("the upstream credential leaked into the record")
	}
	// The grant is spent: the call is not run again.
	close(r.hang)
	res = r.call(cs, "slow_restart", map[string]any{"service": "api"}, mcp.Meta{mcpgateway.MetaRequest: id})
	if st, _ := status(res); st != "executed" || !strings.Contains(text(res), "ran already") {
		t.Fatalf("after a failed run: %q %s", st, text(res))
	}
	// An upstream that is gone: ungated calls get an error result.
	r.upstreamDown()
	res = r.call(cs, mcpexample.ToolStatus, map[string]any{"service": "api"}, nil)
	if !res.IsError || !strings.Contains(text(res), "did not answer") || strings.Contains(text(res), "upstream-only-secret") {
		t.Fatalf("upstream down: %s", text(res))
	}
}

func TestGatewayRestartedWhileACallIsHeld(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		r := newRig(t, b.Open(t), holdFor(10*time.Second))
		cs := r.connect("deploy-bot")
		ch := r.callAsync(cs, mcpexample.ToolRestart, restartArgs("api", "prod"), nil)
		id := r.waitPending()
		// The gateway goes away with the call held; the agent's call fails.
		r.srv.CloseClientConnections()
		r.start()
		if res := wait(t, ch); !res.IsError {
			t.Fatalf("the held call survived the restart: %s", text(res))
		}
		r.approve(id)
		cs2 := r.connect("deploy-bot")
		res := r.call(cs2, mcpexample.ToolRestart, restartArgs("api", "prod"), nil)
		if st, rid := status(res); res.IsError || st != "executed" || rid != id {
			t.Fatalf("resumed after restart: %q %q %s", st, rid, text(res))
		}
		r.start()
		cs3 := r.connect("deploy-bot")
		res = r.call(cs3, mcpexample.ToolRestart, restartArgs("api", "prod"), mcp.Meta{mcpgateway.MetaRequest: id})
		if st, _ := status(res); st != "executed" || r.ops.Restarts("api", "prod") != 1 {
			t.Fatalf("after a second restart: %q, ran %d times", st, r.ops.Restarts("api", "prod"))
		}
	})
}

// A stdio server that exits mid-call: the call is an error result, and the
// next call starts the server again.
func TestStdioUpstreamThatDiesIsStartedAgain(t *testing.T) {
	r := newRig(t, storetest.SQLite(t).Open(t), stdio)
	cs := r.connect("deploy-bot")
	res := r.call(cs, "exit_now", map[string]any{}, nil)
	if !res.IsError || !strings.Contains(text(res), "did not answer") {
		t.Fatalf("a dying upstream answered %s", text(res))
	}
	var out mcpexample.StatusOutput
	res = r.call(cs, mcpexample.ToolStatus, map[string]any{"service": "api"}, nil)
	structured(t, res, &out)
	if res.IsError || out.State != "running" {
		t.Fatalf("after the upstream died: %s", text(res))
	}
}

// TestConcurrentResumesOfOneApprovalRunOnce: eight sessions of the agent
// resume the same approved call at once, on two gateways over one
// database (two replicas): the upstream runs it once, the grant is
// redeemed once, and every other caller is told it ran or is running —
// none is told it ran when it did not.
func TestConcurrentResumesOfOneApprovalRunOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		st := b.Open(t)
		r := newRig(t, st, holdFor(100*time.Millisecond))
		other := newRig(t, b.Open(t), holdFor(100*time.Millisecond), func(o *rig) { o.ops, o.upstream = r.ops, r.upstream })
		_, id := status(r.call(r.connect("deploy-bot"), mcpexample.ToolRestart, restartArgs("api", "prod"), nil))
		if id == "" {
			t.Fatal("no request opened")
		}
		r.approve(id)
		var wg sync.WaitGroup
		answers := make([]string, 8)
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g := r
				if i%2 == 1 {
					g = other
				}
				res := g.call(g.connect("deploy-bot"), mcpexample.ToolRestart, restartArgs("api", "prod"), mcp.Meta{mcpgateway.MetaRequest: id})
				s, _ := status(res)
				if !res.IsError {
					s = "ran"
				}
				answers[i] = s
			}()
		}
		wg.Wait()
		ran := 0
		for _, a := range answers {
			switch a {
			case "ran":
				ran++
			case "executed", "in_flight":
			default:
				t.Errorf("a concurrent resume was answered %q", a)
			}
		}
		if n := r.ops.Restarts("api", "prod"); n != 1 || ran != 1 {
			t.Fatalf("upstream ran %d times, %d callers told it ran (want 1 and 1): %v", n, ran, answers)
		}
		if got := r.events("grant.redeemed", id); got != 1 {
			t.Fatalf("grant redeemed %d times", got)
		}
	})
}
