package main

import (
	"strings"
	"testing"
)

// TestMattermostMessagesConfig reads the messages keys under mattermost:
// from YAML and the environment, and refuses bad ones with their name.
func TestMattermostMessagesConfig(t *testing.T) {
	path := writeFile(t, "mattermost:\n  site_url: https://chat.example.com\n  approvers: [alice, \"@bob\"]\n  recheck_timeout: 3s\n")
	cfg, err := LoadConfig(path, []string{"COUNTERSIGN_MATTERMOST_BOT_TOKEN=tok123"})
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Mattermost.Messages
	if m.BotToken != "tok123" || len(m.Approvers) != 2 || m.RecheckTimeout.D().Seconds() != 3 || !cfg.MattermostMessages() {
		t.Fatalf("loaded %+v", m)
	}
	for env, want := range map[string]string{
		"COUNTERSIGN_MATTERMOST_APPROVERS=bad name!": "mattermost.approvers",
		"COUNTERSIGN_MATTERMOST_ACTION_KEY=abcd":     "mattermost.action_key",
	} {
		if _, err := LoadConfig(path, []string{env}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error naming %s", env, err, want)
		}
	}
	if _, err := LoadConfig("", []string{"COUNTERSIGN_MATTERMOST_BOT_TOKEN=x"}); err == nil || !strings.Contains(err.Error(), "site_url") {
		t.Errorf("a token without a site: %v", err)
	}
}
