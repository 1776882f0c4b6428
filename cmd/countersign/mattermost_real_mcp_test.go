package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/countersign/countersign/web/mcpgateway"
)

// bearerTransport adds the agent's credential to every request.
type bearerTransport struct{ key string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return http.DefaultTransport.RoundTrip(r)
}

// agentSessions creates an agent key for deploy-agent and connects an MCP
// session with it to the gateway of e; n sessions share the key.
func agentSessions(ctx context.Context, t *testing.T, e *realEnv, n int) []*mcp.ClientSession {
	t.Helper()
	code, key, errOut := runCmd("agent", "key", "create", "deploy-agent", "--config", e.config)
	if code != exitOK {
		t.Fatalf("agent key create: %d %s", code, errOut)
	}
	out := make([]*mcp.ClientSession, n)
	for i := range out {
		client := mcp.NewClient(&mcp.Implementation{Name: "deploy-agent"}, nil)
		cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: e.base + "/api/v1/mcp",
			HTTPClient: &http.Client{Transport: bearerTransport{key: strings.TrimSpace(key)}}, MaxRetries: -1}, nil)
		if err != nil {
			t.Fatalf("connect to the gateway: %v", err)
		}
		t.Cleanup(func() { cs.Close() })
		out[i] = cs
	}
	return out
}

// TestRealMCPGatewayProposesInThreadAndRunsOnce: an agent connected to
// the MCP gateway of a `countersign serve` wired to the real Mattermost
// calls a gated tool naming a thread. The call is held, then answered
// pending; Countersign's message about the request is in that thread on
// the real server and the request holds the thread's conversation and the
// observed call. bob approves in the portal; the agent's repeated call
// runs the upstream tool once, and a third call does not run it again.
func TestRealMCPGatewayProposesInThreadAndRunsOnce(t *testing.T) {
	e := newRealEnvWith(t, realOptions{agent: true, mcp: true})
	w := e.w
	root := w.Post(e.person("alice"), w.Channel.Id, "api on staging answers in 9 s, can the agent restart it?")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cs := agentSessions(ctx, t, e, 1)[0]

	// Ungated: passes through.
	st, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "service_status", Arguments: map[string]any{"service": "api"}})
	if err != nil || st.IsError {
		t.Fatalf("service_status: %+v %v", st, err)
	}

	call := func() *mcp.CallToolResult {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "restart_service", Arguments: map[string]any{"service": "api", "env": "staging"},
			Meta: mcp.Meta{mcpgateway.MetaPurpose: "api answers in 9 s", mcpgateway.MetaThread: root.Id}})
		if err != nil {
			t.Fatalf("restart_service: %v", err)
		}
		return res
	}
	res := call()
	state, id := res.Meta[mcpgateway.MetaStatus], res.Meta[mcpgateway.MetaRequest]
	reqID, _ := id.(string)
	if state != "pending_approval" || reqID == "" {
		t.Fatalf("held call answered %v / %v: %+v", state, id, res)
	}
	if n := e.ops.Restarts("api", "staging"); n != 0 {
		t.Fatalf("the tool ran %d times before any approval", n)
	}
	// Countersign's message about the request, in the named thread.
	e.requestMessage(w.Channel.Id, reqID, func(p *model.Post) bool { return p.RootId == root.Id })

	bob := e.signIn("bob")
	doc := bob.page("/requests/" + reqID)
	if got := doc.Find(`[data-testid="tool-origin"][data-origin="observed"]`).Length(); got == 0 {
		t.Fatalf("request page shows no call observed by Countersign")
	}
	if !strings.Contains(doc.Text(), "api on staging answers in 9 s") {
		t.Fatalf("request page lacks the thread's conversation")
	}
	if code, _, body := bob.decide(reqID, "approve", ""); code >= 400 {
		t.Fatalf("bob approves: %d %s", code, snippetOf(body))
	}

	res = call()
	if res.IsError || e.ops.Restarts("api", "staging") != 1 {
		t.Fatalf("approved call: error %v, restarts %d: %+v", res.IsError, e.ops.Restarts("api", "staging"), res)
	}
	res = call()
	if n := e.ops.Restarts("api", "staging"); n != 1 {
		t.Fatalf("a repeated approved call ran the tool again (%d restarts): %+v", n, res)
	}
	if !res.IsError {
		t.Fatalf("a repeated call after the execution should be refused, got %+v", res)
	}
}

// TestRealMCPGatewayIdenticalCallsAtOnce: two sessions of one agent make
// the same gated call at the same moment, naming a thread, against a
// `countersign serve` wired to the real Mattermost. Both are told the same
// request; in the thread on the real server, each proposal but the
// request's own is marked with the request that carries the call.
func TestRealMCPGatewayIdenticalCallsAtOnce(t *testing.T) {
	e := newRealEnvWith(t, realOptions{agent: true, mcp: true})
	w := e.w
	root := w.Post(e.person("alice"), w.Channel.Id, "api on staging is slow again, can the agent restart it?")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sessions := agentSessions(ctx, t, e, 2)
	ids := make([]string, len(sessions))
	start := make(chan struct{})
	done := make(chan int, len(sessions))
	for i, cs := range sessions {
		go func() {
			defer func() { done <- i }()
			<-start
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "restart_service", Arguments: map[string]any{"service": "api", "env": "staging"},
				Meta: mcp.Meta{mcpgateway.MetaPurpose: "api is slow", mcpgateway.MetaThread: root.Id}})
			if err == nil && res.Meta[mcpgateway.MetaStatus] == "pending_approval" {
				ids[i], _ = res.Meta[mcpgateway.MetaRequest].(string)
			}
		}()
	}
	close(start)
	for range sessions {
		<-done
	}
	if ids[0] == "" || ids[0] != ids[1] {
		t.Fatalf("the two calls were told %q and %q, want one pending request", ids[0], ids[1])
	}
	e.requestMessage(w.Channel.Id, ids[0], func(p *model.Post) bool { return p.RootId == root.Id })
	proposals, superseded := 0, 0
	for _, p := range w.ThreadPosts(root.Id) {
		if p.UserId != w.Bot.User.Id || !strings.Contains(p.Message, "called an MCP tool") {
			continue
		}
		proposals++
		if strings.Contains(p.Message, "Superseded:") {
			superseded++
			if !strings.Contains(strings.ReplaceAll(p.Message, `\`, ""), ids[0]) {
				t.Fatalf("the superseded proposal does not name %s: %s", ids[0], p.Message)
			}
		}
	}
	t.Logf("%d proposals, %d marked superseded", proposals, superseded)
	if proposals == 0 || proposals-superseded != 1 {
		t.Fatalf("%d proposals, %d marked superseded: want one proposal left standing", proposals, superseded)
	}
}
