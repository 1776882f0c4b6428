package main

import (
	"strings"
	"testing"
	"time"
)

// mattermost.websocket: on with the bot, off with disabled; catch_up
// from YAML or the environment, within 0 (the default) and 24h.
func TestMattermostWebSocketConfig(t *testing.T) {
	bot := "mattermost:\n  site_url: https://chat.example.com\n  bot_token: abcdefghijklmnopqrstuvwxyz\n"
	cfg, err := LoadConfig(writeFile(t, bot), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.MattermostListens() || cfg.Mattermost.WebSocket.CatchUp.D() != 0 {
		t.Errorf("with a bot: listens %v, catch_up %s", cfg.MattermostListens(), cfg.Mattermost.WebSocket.CatchUp.D())
	}
	if cfg, err := LoadConfig("", nil); err != nil || cfg.MattermostListens() {
		t.Errorf("without a bot the WebSocket is on: %v", err)
	}
	off := writeFile(t, bot+"  websocket: {disabled: true}\n")
	if cfg, err := LoadConfig(off, nil); err != nil || cfg.MattermostListens() {
		t.Errorf("disabled: listens %v, %v", cfg.MattermostListens(), err)
	}
	cfg, err = LoadConfig(writeFile(t, bot+"  websocket: {catch_up: 30m}\n"), []string{"COUNTERSIGN_MATTERMOST_WEBSOCKET_CATCH_UP=2h"})
	if err != nil || cfg.Mattermost.WebSocket.CatchUp.D() != 2*time.Hour {
		t.Errorf("env catch_up 2h: %s %v", cfg.Mattermost.WebSocket.CatchUp.D(), err)
	}
	if cfg, err := LoadConfig(writeFile(t, bot), []string{"COUNTERSIGN_MATTERMOST_WEBSOCKET_DISABLED=true"}); err != nil || cfg.MattermostListens() {
		t.Errorf("env disabled: %v", err)
	}
	for _, bad := range []string{"-1m", "25h"} {
		_, err := LoadConfig(writeFile(t, bot+"  websocket: {catch_up: "+bad+"}\n"), nil)
		if err == nil || !strings.Contains(err.Error(), "mattermost.websocket.catch_up") {
			t.Errorf("catch_up %s: %v, want an error naming mattermost.websocket.catch_up", bad, err)
		}
	}
}
