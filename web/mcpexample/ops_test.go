package mcpexample_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/countersign/countersign/web/mcpexample"
)

func TestOpsServerRestartsAndReports(t *testing.T) {
	ctx := context.Background()
	ops := mcpexample.New()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := ops.Server().Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()

	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: mcpexample.ToolRestart, Arguments: map[string]any{"service": "api", "env": "prod"}})
	if err != nil || res.IsError {
		t.Fatalf("restart: %v %+v", err, res)
	}
	if ops.Restarts("api", "prod") != 1 || ops.Restarts("api", "staging") != 0 {
		t.Fatalf("restarts: prod %d staging %d", ops.Restarts("api", "prod"), ops.Restarts("api", "staging"))
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: mcpexample.ToolStatus, Arguments: map[string]any{"service": "api"}})
	if err != nil || res.IsError {
		t.Fatalf("status: %v %+v", err, res)
	}
	var out mcpexample.StatusOutput
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, &out); err != nil || out.Restarts != 1 || out.State != "running" {
		t.Fatalf("status answer %s: %v", b, err)
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: mcpexample.ToolRestart, Arguments: map[string]any{"service": "api", "env": "moon"}})
	if err != nil || !res.IsError || ops.Restarts("api", "") != 1 {
		t.Fatalf("a bad env must be a tool error that restarts nothing: %v %+v", err, res)
	}
}
