package main

import (
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/countersign/countersign/web/mattermost/mmfake"
	"github.com/countersign/countersign/web/mcpexample"
	"github.com/countersign/countersign/web/mcpgateway"
)

type bearerRT struct{ auth string }

func (b bearerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", b.auth)
	return http.DefaultTransport.RoundTrip(r)
}

// The demo prints how to point an MCP client at Countersign, and what it
// prints works: the agent's key opens a session in front of the example
// ops server, a read passes through and a staging restart runs at once.
func TestDemoPrintsAWorkingMCPGateway(t *testing.T) {
	fake := mmfake.New(t)
	owner := fake.AddHuman("dana")
	fake.AddBot("deploy-bot", owner.Id)
	bot := fake.AddBot("countersign", owner.Id)
	fake.Grant(bot.Id, model.PermissionReadOthersBots.Id)
	data := filepath.Join(t.TempDir(), "demo")
	_, stdout, stop := startServer(t, nil, "demo", "--data", data, "--addr", "127.0.0.1:0",
		"--mattermost-url", fake.URL(), "--mattermost-bot-token", fake.NewToken(bot.Id), "--mattermost-command-token", "mattermostgeneratedtoken26")
	defer stop()
	line := regexp.MustCompile(`claude mcp add --transport http countersign (\S+) --header "Authorization: (Bearer \S+)"`)
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); {
		m = line.FindStringSubmatch(stdout.String())
		time.Sleep(20 * time.Millisecond)
	}
	if m == nil {
		t.Fatalf("no MCP instructions in:\n%s", stdout.String())
	}
	ctx := context.Background()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t"}, nil).Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint: m[1], HTTPClient: &http.Client{Transport: bearerRT{auth: m[2]}}, MaxRetries: -1,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: mcpexample.ToolStatus, Arguments: map[string]any{"service": "api"}})
	if err != nil || res.IsError {
		t.Fatalf("status: %v %+v", err, res)
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: mcpexample.ToolRestart, Arguments: map[string]any{"service": "api", "env": "staging"}})
	if err != nil || res.IsError || res.Meta[mcpgateway.MetaStatus] != "executed" {
		t.Fatalf("staging restart: %v %+v", err, res)
	}
	if id, _ := res.Meta[mcpgateway.MetaRequest].(string); !strings.HasPrefix(id, "REQ-") {
		t.Fatalf("no request id in %v", res.Meta)
	}

	// The agent's client-credentials token from the IdP opens a session too.
	cc := regexp.MustCompile(`client credentials at (\S+): client (\S+), secret (\S+) `).FindStringSubmatch(stdout.String())
	if cc == nil {
		t.Fatalf("no client credentials in:\n%s", stdout.String())
	}
	tok, err := (&clientcredentials.Config{ClientID: cc[2], ClientSecret: cc[3], TokenURL: cc[1]}).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cs2, err := mcp.NewClient(&mcp.Implementation{Name: "t2"}, nil).Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint: m[1], HTTPClient: &http.Client{Transport: bearerRT{auth: "Bearer " + tok.AccessToken}}, MaxRetries: -1,
	}, nil)
	if err != nil {
		t.Fatalf("connect with a client-credentials token: %v", err)
	}
	defer cs2.Close()
	if res, err := cs2.CallTool(ctx, &mcp.CallToolParams{Name: mcpexample.ToolStatus, Arguments: map[string]any{"service": "api"}}); err != nil || res.IsError {
		t.Fatalf("status with a token: %v %+v", err, res)
	}
}
