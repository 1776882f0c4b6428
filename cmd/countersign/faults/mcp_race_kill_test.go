//go:build faults

package faults

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// mcpHeldPolicy holds every restart for an sre's approval.
const mcpHeldPolicy = `version: 1
roles:
  sre: {}
actions:
  - name: ops.restart
    mcp_tool: ops/restart_service
    params:
      - {name: service, required: true, pattern: '[a-z0-9-]+'}
      - {name: env, allowed: [staging, prod], required: true}
rules:
  - name: held
    when: "true"
    require: {approvals: 1, roles: [sre]}
`

// TestMCPIdenticalCallsAcrossAKilledServer: eight sessions of one agent
// make the same held call at once against a real `serve` process, which
// is killed (SIGKILL) while they are in flight — as soon as the calls are
// sent, when the first request is stored, or a second later. After a
// restart the eight make the call again at once: every one is told the
// same request, exactly one request exists for the call, and the audit
// chain verifies. Three rounds, one per moment of the kill.
func TestMCPIdenticalCallsAcrossAKilledServer(t *testing.T) {
	w := newWorld(t)
	up := mcp.NewServer(&mcp.Implementation{Name: "ops"}, nil)
	mcp.AddTool(up, &mcp.Tool{Name: "restart_service", Description: "Restart a service"},
		func(context.Context, *mcp.CallToolRequest, restartInput) (*mcp.CallToolResult, map[string]any, error) {
			return nil, map[string]any{"restarted": true}, nil
		})
	upSrv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return up }, nil))
	t.Cleanup(upSrv.Close)
	g := startMCPServe(t, w, mcpHeldPolicy, upSrv.URL)
	st := openExisting(t, g.dsn)
	t.Cleanup(func() { _ = st.Close() })
	requests := func(service string) int64 {
		var n int64
		if err := st.DB(context.Background()).Raw(`SELECT COUNT(*) FROM requests WHERE action = 'ops.restart' AND params LIKE ?`, `%"`+service+`"%`).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	// callAll makes the call from eight new sessions at once and returns
	// what each was told: the request id of a held call, or why not.
	callAll := func(service string, started chan<- struct{}) []string {
		sessions := make([]*mcp.ClientSession, 8)
		for i := range sessions {
			sessions[i] = g.connect()
		}
		params := &mcp.CallToolParams{Name: "restart_service", Arguments: map[string]any{"service": service, "env": "prod"}}
		told := make([]string, len(sessions))
		var wg sync.WaitGroup
		for i, cs := range sessions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer cs.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				res, err := cs.CallTool(ctx, params)
				switch {
				case err != nil:
					told[i] = "error: " + err.Error()
				case res.Meta["countersign/status"] == "pending_approval":
					told[i], _ = res.Meta["countersign/request_id"].(string)
				default:
					told[i] = fmt.Sprintf("not held: %v %s", res.Meta["countersign/status"], textOf(res))
				}
			}()
		}
		if started != nil {
			close(started)
		}
		wg.Wait()
		return told
	}
	for round, when := range []string{"at once", "at the first request", "a second later"} {
		service := fmt.Sprintf("api-%d", round)
		started := make(chan struct{})
		go callAll(service, started) // answered or cut off by the kill
		<-started
		switch when {
		case "at the first request":
			deadline := time.Now().Add(20 * time.Second)
			for requests(service) == 0 && time.Now().Before(deadline) {
				time.Sleep(2 * time.Millisecond)
			}
		case "a second later":
			time.Sleep(time.Second)
		}
		g.proc.kill()
		before := requests(service)
		if err := g.proc.start(); err != nil {
			t.Fatal(err)
		}
		told := callAll(service, nil)
		for _, id := range told {
			if !strings.HasPrefix(id, "REQ-") || id != told[0] {
				t.Fatalf("round %d (kill %s): after the restart the calls were told %v", round, when, told)
			}
		}
		if n := requests(service); n != 1 {
			t.Fatalf("round %d (kill %s): %d requests for the call (%d when killed), want 1", round, when, n, before)
		}
		t.Logf("round %d (kill %s): %d request(s) when killed; after the restart all eight told %s", round, when, before, told[0])
	}
	if code, err := g.proc.stop(); err != nil || code != 0 {
		t.Fatalf("graceful stop: %d %v", code, err)
	}
	if code, out, errOut := runCLI(t, "audit", "verify", "--db", g.dsn); code != 0 || !strings.HasPrefix(out, "ok ") {
		t.Fatalf("audit verify: %d %s %s", code, out, errOut)
	}
}
