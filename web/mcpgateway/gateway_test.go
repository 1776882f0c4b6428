package mcpgateway_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/execution"
	"github.com/countersign/countersign/models/policy"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/mcpexample"
	"github.com/countersign/countersign/web/mcpgateway"
)

func toolNames(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	var names []string
	for tool, err := range cs.Tools(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

func TestUngatedCallsPassThroughAndToolsAreFiltered(t *testing.T) {
	for _, kind := range []string{"http", "stdio"} {
		t.Run(kind, func(t *testing.T) {
			var opts []rigOption
			if kind == "stdio" {
				opts = append(opts, stdio)
			}
			r := newRig(t, storetest.SQLite(t).Open(t), opts...)
			cs := r.connect("deploy-bot")
			names := toolNames(t, cs)
			if !slices.Contains(names, mcpexample.ToolStatus) || !slices.Contains(names, mcpexample.ToolRestart) {
				t.Fatalf("deploy-bot sees %v", names)
			}
			// reader-bot may not request restart: the tool is not listed.
			if names := toolNames(t, r.connect("reader-bot")); slices.Contains(names, mcpexample.ToolRestart) || !slices.Contains(names, mcpexample.ToolStatus) {
				t.Fatalf("reader-bot sees %v", names)
			}
			res := r.call(cs, mcpexample.ToolStatus, map[string]any{"service": "api"}, nil)
			var out mcpexample.StatusOutput
			structured(t, res, &out)
			if res.IsError || out.Service != "api" || out.State != "running" {
				t.Fatalf("status through the gateway: %+v %s", out, text(res))
			}
			if st, _ := status(res); st != "" {
				t.Fatalf("an ungated call carries a gate status %q", st)
			}
			var n int64
			r.store.DB(context.Background()).Model(&models.Request{}).Count(&n)
			if n != 0 {
				t.Fatalf("an ungated call opened %d requests", n)
			}
		})
	}
}

func TestGatewayRefusesMissingOrBadCredentials(t *testing.T) {
	r := newRig(t, storetest.SQLite(t).Open(t))
	for _, auth := range []string{"", "Bearer cs_nope_nope", "Basic Zm9vOmJhcg==", upstreamSecret} {
		req, _ := http.NewRequest(http.MethodPost, r.srv.URL, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("Authorization %q: status %d", auth, resp.StatusCode)
		}
	}
}

func TestDeniedCallIsAnErrorResultAndAudited(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		r := newRig(t, b.Open(t))
		cs := r.connect("deploy-bot")
		res := r.call(cs, mcpexample.ToolRestart, restartArgs("db", "prod"), nil)
		st, id := status(res)
		if !res.IsError || st != "refused" || !strings.Contains(text(res), "Agents may not restart the database") {
			t.Fatalf("denied call answered %q %q", st, text(res))
		}
		if r.ops.Restarts("db", "") != 0 {
			t.Fatal("a denied call ran")
		}
		if req := r.request(id); req.State != models.StateDenied || req.RequesterName != "deploy-bot" {
			t.Fatalf("request %s is %s by %s", id, req.State, req.RequesterName)
		}
		if r.events("request.denied", id) != 1 || r.events("request.created", id) != 1 {
			t.Fatal("the denial is not audited")
		}
		// Bad arguments are refused by the catalogue before anything is stored.
		res = r.call(cs, mcpexample.ToolRestart, restartArgs("api", "moon"), nil)
		if st, id := status(res); !res.IsError || st != "refused" || id != "" || !strings.Contains(text(res), "env") {
			t.Fatalf("bad env answered %q %q %q", st, id, text(res))
		}
	})
}

func TestAutoApprovedCallRunsAtOnceAndIsRecorded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		r := newRig(t, b.Open(t))
		cs := r.connect("deploy-bot")
		res := r.call(cs, mcpexample.ToolRestart, restartArgs("api", "staging"), nil)
		st, id := status(res)
		var out mcpexample.RestartOutput
		structured(t, res, &out)
		if res.IsError || st != "executed" || out.Restarted != "api" || out.Restarts != 1 {
			t.Fatalf("auto-approved call answered %q %+v %s", st, out, text(res))
		}
		if r.ops.Restarts("api", "staging") != 1 {
			t.Fatal("the upstream did not run it once")
		}
		if req := r.request(id); req.State != models.StateExecuted {
			t.Fatalf("request is %s", req.State)
		}
		ex, err := r.execs.Get(context.Background(), id)
		if err != nil || ex.State != execution.StateSucceeded || ex.Mode != execution.ModeGateway || !strings.Contains(ex.Output, `"restarted":"api"`) {
			t.Fatalf("execution %+v %v", ex, err)
		}
		for _, typ := range []string{"request.approved", "grant.redeemed", "execution.succeeded"} {
			if r.events(typ, id) != 1 {
				t.Fatalf("%s is not audited once", typ)
			}
		}
	})
}

// A policy reload that stops mapping a tool to an action lets the tool
// pass through; one that maps it gates it — for calls made after the
// reload, on sessions open before it too.
func TestPolicyReloadChangesWhatIsGated(t *testing.T) {
	r := newRig(t, storetest.SQLite(t).Open(t), holdFor(50*time.Millisecond))
	cs := r.connect("deploy-bot")
	if st, _ := status(r.call(cs, mcpexample.ToolRestart, restartArgs("api", "prod"), nil)); st != "pending_approval" {
		t.Fatalf("gated before the reload: %q", st)
	}
	p, err := policy.Parse("v2.yaml", []byte(strings.Replace(testPolicy, "mcp_tool: ops/restart_service", "mcp_tool: ops/restart_everything", 1)))
	if err != nil {
		t.Fatal(err)
	}
	r.policy.Swap(p)
	res := r.call(cs, mcpexample.ToolRestart, restartArgs("api", "prod"), nil)
	if st, _ := status(res); res.IsError || st != "" || r.ops.Restarts("api", "prod") != 1 {
		t.Fatalf("after the reload restart_service should pass through: %q %s", st, text(res))
	}
	// reader-bot, which may not request restart, now sees the tool.
	if names := toolNames(t, r.connect("reader-bot")); !slices.Contains(names, mcpexample.ToolRestart) {
		t.Fatalf("reader-bot sees %v after the reload", names)
	}
}

// Behind a reverse proxy on the same host, requests reach the loopback
// listener with the public Host: they are served (the credential, not the
// Host, is what counts).
func TestPublicHostOnLoopbackIsServed(t *testing.T) {
	r := newRig(t, storetest.SQLite(t).Open(t))
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
	req.Host = "countersign.example.com"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+r.keys["deploy-bot"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("initialize with a public Host on loopback: %d", resp.StatusCode)
	}
}

func TestTwoUpstreamsOfferingOneToolAreRefused(t *testing.T) {
	r := newRig(t, storetest.SQLite(t).Open(t))
	a, err := mcpgateway.Dial(context.Background(), r.upstream)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	second := r.upstream
	second.Name = "ops2"
	b, err := mcpgateway.Dial(context.Background(), second)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := mcpgateway.CheckTools([]*mcpgateway.Upstream{a}); err != nil {
		t.Fatalf("one upstream: %v", err)
	}
	if err := mcpgateway.CheckTools([]*mcpgateway.Upstream{a, b}); err == nil || !strings.Contains(err.Error(), "offered by both ops and ops2") {
		t.Fatalf("two upstreams with the same tools: %v", err)
	}
}

// What the gateway keeps about a session goes when the session ends.
func TestEndedSessionsAreForgotten(t *testing.T) {
	r := newRig(t, storetest.SQLite(t).Open(t))
	cs := r.connect("deploy-bot")
	r.call(cs, mcpexample.ToolStatus, map[string]any{"service": "api"}, nil)
	before := mcpgateway.KeptSessions(r.gw)
	if before < 2 {
		t.Fatalf("kept %d entries for a session with a call, want its owner and chain", before)
	}
	// Ids handed out for sessions that never went live are swept later;
	// the live session is kept.
	mcpgateway.Prune(r.gw, time.Now().Add(2*time.Minute))
	if n := mcpgateway.KeptSessions(r.gw); n != 2 {
		t.Fatalf("after the sweep %d entries, want the live session's 2", n)
	}
	r.call(cs, mcpexample.ToolStatus, map[string]any{"service": "api"}, nil)
	r.gw.Close() // ends the session from the server's side, as a timeout does
	deadline := time.Now().Add(5 * time.Second)
	for mcpgateway.KeptSessions(r.gw) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("still keeping %d entries after the session ended", mcpgateway.KeptSessions(r.gw))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An upstream restarted with other tools: the gateway connects again and
// sessions opened after that list the new tools.
func TestUpstreamToolsAreListedAgainAfterAReconnect(t *testing.T) {
	r := newRig(t, storetest.SQLite(t).Open(t))
	cs := r.connect("deploy-bot")
	s := r.ops.Server()
	mcp.AddTool(s, &mcp.Tool{Name: "flush_cache"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, struct{}, error) {
		return nil, struct{}{}, nil
	})
	r.upstreamHandler.Store(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	if slices.Contains(toolNames(t, r.connect("deploy-bot")), "flush_cache") {
		t.Fatal("a tool the gateway has not listed yet is shown")
	}
	// The first call finds the upstream's session gone; a later one is
	// served on a new connection.
	r.call(cs, mcpexample.ToolStatus, map[string]any{"service": "api"}, nil)
	if res := r.call(cs, mcpexample.ToolStatus, map[string]any{"service": "api"}, nil); res.IsError {
		t.Fatalf("after the upstream restarted: %s", text(res))
	}
	if !slices.Contains(toolNames(t, r.connect("deploy-bot")), "flush_cache") {
		t.Fatal("the new tool is not listed after the reconnect")
	}
}
