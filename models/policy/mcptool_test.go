package policy

import (
	"strings"
	"testing"
)

func TestActionForToolLooksUpServerThenBareName(t *testing.T) {
	p := mustParse(t, `version: 1
actions:
  - name: restart
    mcp_tool: ops/restart_service
    params:
      - {name: service, required: true}
  - name: purge
    mcp_tool: purge_cache
`)
	cases := []struct{ server, tool, want string }{
		{"ops", "restart_service", "restart"},
		{"other", "restart_service", ""},
		{"ops", "purge_cache", "purge"},
		{"any", "purge_cache", "purge"},
		{"ops", "service_status", ""},
	}
	for _, c := range cases {
		a, ok := p.ActionForTool(c.server, c.tool)
		got := ""
		if ok {
			got = a.Name
		}
		if got != c.want {
			t.Errorf("ActionForTool(%q, %q) = %q, want %q", c.server, c.tool, got, c.want)
		}
	}
}

func TestOneMCPToolPerAction(t *testing.T) {
	_, err := Parse("p.yaml", []byte("version: 1\nactions:\n  - name: a\n    mcp_tool: ops/x\n  - name: b\n    mcp_tool: ops/x\n"))
	if err == nil || !strings.Contains(err.Error(), "already the tool of action a") {
		t.Fatalf("duplicate tool: %v", err)
	}
	if _, err := Build("t", []*Action{{Name: "a", MCPTool: "x"}, {Name: "b", MCPTool: "x"}}); err == nil {
		t.Fatal("Build accepted one tool for two actions")
	}
}
