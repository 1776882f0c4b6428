package main

import (
	"strings"
	"testing"
)

func TestConfigAgents(t *testing.T) {
	dir := t.TempDir()
	base := "data_dir: " + dir + "\nmattermost:\n  site_url: https://chat.example.com\n  bot_token: t\n"
	cfg, err := LoadConfig(writeFile(t, base+"agents:\n  - name: deploy-bot\n    bot_user_id: 6cex5ukfajfc8pbu3ewqd6i3ow\n    sponsor: dave\n    roles: [agent]\n"), nil)
	if err != nil || len(cfg.Agents) != 1 || cfg.Agents[0].Roles[0] != "agent" {
		t.Fatalf("agents: %+v, %v", cfg.Agents, err)
	}
	cfg, err = LoadConfig(writeFile(t, base), []string{`COUNTERSIGN_AGENTS=[{"name":"b","bot_user_id":"6cex5ukfajfc8pbu3ewqd6i3ow","sponsor":"dave"}]`, "COUNTERSIGN_MATTERMOST_COMMAND_TOKENS=aaaaaaaaaaaaaaaa,bbbbbbbbbbbbbbbb"})
	if err != nil || len(cfg.Agents) != 1 || cfg.Agents[0].Name != "b" || len(cfg.Mattermost.CommandTokens) != 2 {
		t.Fatalf("env: %+v, %v", cfg, err)
	}
	for name, body := range map[string]string{
		"unknown key":    base + "agents:\n  - name: a\n    bot_user_id: 6cex5ukfajfc8pbu3ewqd6i3ow\n    sponsor: dave\n    admin: true\n",
		"bad bot id":     base + "agents:\n  - name: a\n    bot_user_id: x\n    sponsor: dave\n",
		"client, no aud": base + "agents:\n  - name: a\n    bot_user_id: 6cex5ukfajfc8pbu3ewqd6i3ow\n    sponsor: dave\n    client_id: c\n",
		"short token":    base + "  command_tokens: [short]\n",
		"no bot token":   "data_dir: " + dir + "\nmattermost:\n  command_tokens: [aaaaaaaaaaaaaaaa]\n",
		"aud, no issuer": base + "agent_api:\n  audience: api\n",
	} {
		if _, err := LoadConfig(writeFile(t, body), nil); err == nil || !strings.Contains(err.Error(), "config") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
