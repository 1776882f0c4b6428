package main

import (
	"strings"
	"testing"
	"time"
)

func TestMCPConfig(t *testing.T) {
	dir := t.TempDir()
	base := "data_dir: " + dir + "\nmattermost:\n  site_url: https://chat.example.com\n  bot_token: t\n" +
		"agents:\n  - name: deploy-bot\n    bot_user_id: 6cex5ukfajfc8pbu3ewqd6i3ow\n    sponsor: dave\n    roles: [agent]\n"
	good := base + "mcp:\n  hold: 15s\n  upstreams:\n" +
		"    - {name: ops, command: [ops-server, --stdio], env_from: {OPS_TOKEN: CS_OPS_TOKEN}}\n" +
		"    - {name: tickets, url: 'https://tickets.internal/mcp', headers_from: {Authorization: CS_TICKETS_AUTH}, timeout: 5s}\n"
	env := []string{"CS_OPS_TOKEN=ops-secret", "CS_TICKETS_AUTH=Bearer tickets-secret"}
	cfg, err := LoadConfig(writeFile(t, good), env)
	if err != nil {
		t.Fatal(err)
	}
	ups := cfg.MCP.gatewayUpstreams()
	if cfg.MCP.Hold.D() != 15*time.Second || len(ups) != 2 {
		t.Fatalf("mcp %+v", cfg.MCP)
	}
	if ups[0].Command != "ops-server" || len(ups[0].Args) != 1 || len(ups[0].Env) != 1 || ups[0].Env[0] != "OPS_TOKEN=ops-secret" {
		t.Fatalf("stdio upstream %+v", ups[0])
	}
	if ups[1].URL != "https://tickets.internal/mcp" || ups[1].Headers["Authorization"] != "Bearer tickets-secret" || ups[1].Timeout != 5*time.Second {
		t.Fatalf("http upstream %+v", ups[1])
	}
	for _, c := range []struct{ body, want string }{
		{strings.Replace(good, "CS_OPS_TOKEN}", "CS_MISSING}", 1), "CS_MISSING is not set"},
		{strings.Replace(good, "command: [ops-server, --stdio]", "command: [x], url: 'https://x'", 1), "either command or url"},
		{strings.Replace(good, "name: tickets", "name: ops", 1), "named twice"},
		{strings.Replace(good, "hold: 15s", "hold: 2m", 1), "mcp.hold"},
		{strings.Replace(good, "url: 'https://tickets.internal/mcp'", "url: 'ftp://x'", 1), "http(s)"},
		{"data_dir: " + dir + "\nmcp:\n  upstreams:\n    - {name: ops, command: [x]}\n", "needs agents"},
		{good + "    - {name: bad, command: [x], colour: red}\n", "colour"},
	} {
		if _, err := LoadConfig(writeFile(t, c.body), env); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}
