//go:build faults

package faults

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// mcpPolicy maps the upstream's restart_service tool to an action that is
// approved at once on staging: the gateway redeems the grant and forwards
// the call as soon as it arrives.
const mcpPolicy = `version: 1
actions:
  - name: ops.restart
    description: Restart a service through the ops MCP server
    mcp_tool: ops/restart_service
    params:
      - {name: service, required: true, pattern: '[a-z0-9-]+'}
      - {name: env, allowed: [staging, prod], required: true}
rules:
  - name: staging-auto
    when: request.params.env == "staging"
    auto_approve: {grant_ttl: 1m}
`

// restartInput is the upstream tool's arguments.
type restartInput struct {
	Service string `json:"service"`
	Env     string `json:"env"`
}

// bearer adds the agent's credential to every request.
type bearer struct{ key string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return http.DefaultTransport.RoundTrip(r)
}

// TestMCPCallRunsOnceAcrossAKilledServer: the gateway of a real `serve`
// process has redeemed the grant of an auto-approved call and forwarded it
// to the upstream, which is still working on it, when the process is
// killed (SIGKILL). After a restart the agent, reconnected, repeats the
// same call from eight sessions at once: none of them runs the tool again.
// The upstream ran it exactly once, and the audit chain verifies.
func TestMCPCallRunsOnceAcrossAKilledServer(t *testing.T) {
	w := newWorld(t)
	var runs atomic.Int32
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	up := mcp.NewServer(&mcp.Implementation{Name: "ops"}, nil)
	mcp.AddTool(up, &mcp.Tool{Name: "restart_service", Description: "Restart a service"},
		func(ctx context.Context, _ *mcp.CallToolRequest, in restartInput) (*mcp.CallToolResult, map[string]any, error) {
			runs.Add(1)
			<-release // still working when Countersign is killed
			return nil, map[string]any{"restarted": in.Service}, nil
		})
	upSrv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return up }, nil))
	t.Cleanup(upSrv.Close)

	g := startMCPServe(t, w, mcpPolicy, upSrv.URL)
	p, connect := g.proc, g.connect
	params := &mcp.CallToolParams{Name: "restart_service", Arguments: map[string]any{"service": "api", "env": "staging"},
		Meta: mcp.Meta{"countersign/purpose": "api is slow"}}

	first := connect()
	go func() { _, _ = first.CallTool(context.Background(), params) }() // never answered: the server dies
	deadline := time.Now().Add(30 * time.Second)
	for runs.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the call never reached the upstream\n%s", p.logTail(30))
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.kill()
	releaseOnce.Do(func() { close(release) })
	if err := p.start(); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	answers := make([]string, 8)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs := connect()
			defer cs.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := cs.CallTool(ctx, params)
			switch {
			case err != nil:
				answers[i] = "error: " + err.Error()
			case res.IsError:
				answers[i] = fmt.Sprintf("refused: %v %v", res.Meta["countersign/status"], textOf(res))
			default:
				answers[i] = "ran: " + textOf(res)
			}
		}()
	}
	wg.Wait()
	if n := runs.Load(); n != 1 {
		t.Fatalf("the upstream tool ran %d times, want once; the retries were told:\n%s\n%s", n, strings.Join(answers, "\n"), p.logTail(30))
	}
	for _, a := range answers {
		if strings.HasPrefix(a, "ran:") {
			t.Fatalf("a retry after the kill was answered as if it ran: %s", a)
		}
	}
	t.Logf("retries after the kill were told: %s", answers[0])
	if code, err := p.stop(); err != nil || code != 0 {
		t.Fatalf("graceful stop: %d %v", code, err)
	}
	code, vout, verr := runCLI(t, "audit", "verify", "--db", g.dsn)
	if code != 0 || !strings.HasPrefix(vout, "ok ") {
		t.Fatalf("audit verify after the kill: %d %s %s", code, vout, verr)
	}
}

// mcpServe is a real `serve` process with the MCP gateway in front of an
// upstream, on SQLite, and an agent key for it.
type mcpServe struct {
	proc *proc
	dsn  string
	// connect opens an MCP session as the agent.
	connect func() *mcp.ClientSession
}

// startMCPServe starts `serve` with policy text and the upstream at
// upstreamURL, and creates the agent's key.
func startMCPServe(t *testing.T, w *world, policy, upstreamURL string) *mcpServe {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	policyPath := filepath.Join(dir, "policy.yaml")
	writeFile(t, policyPath, policy)
	dsn := "sqlite:" + filepath.Join(dir, "countersign.db")
	config := filepath.Join(dir, "countersign.yaml")
	writeFile(t, config, fmt.Sprintf(`listen: "127.0.0.1:%d"
public_url: %q
data_dir: %q
database: %q
log: {level: info}
mattermost:
  site_url: %q
  bot_token: %q
policy: {file: %q}
agents:
  - {name: %s, bot_user_id: %s, sponsor: dave}
mcp:
  hold: 3s
  upstreams:
    - {name: ops, url: %q, timeout: 60s}
`, port, base, dir, dsn, w.fake.URL(), w.botToken, policyPath, agentName, w.agent.Id, upstreamURL))
	code, out, errOut := runCLI(t, "agent", "key", "create", agentName, "--config", config)
	if code != 0 {
		t.Fatalf("agent key create: %d %s", code, errOut)
	}
	key := strings.TrimSpace(out)
	p := newProc(t, "serve", config, base, filepath.Join(dir, "serve.log"))
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	return &mcpServe{proc: p, dsn: dsn, connect: func() *mcp.ClientSession {
		t.Helper()
		cs, err := mcp.NewClient(&mcp.Implementation{Name: agentName}, nil).Connect(context.Background(),
			&mcp.StreamableClientTransport{Endpoint: base + "/api/v1/mcp", HTTPClient: &http.Client{Transport: bearer{key: key}}, MaxRetries: -1}, nil)
		if err != nil {
			t.Fatalf("connect: %v\n%s", err, p.logTail(20))
		}
		return cs
	}}
}

// textOf joins a result's text content.
func textOf(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}
