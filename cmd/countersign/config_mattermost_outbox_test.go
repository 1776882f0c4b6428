package main

import (
	"strings"
	"testing"
	"time"
)

// mattermost.outbox_concurrency (default 16, 1–256) and
// mattermost.outbox_probe_interval (default 1s, 100ms–1m) come from YAML
// or the environment; values out of range are refused with their name.
func TestMattermostOutboxConfig(t *testing.T) {
	cfg, err := LoadConfig("", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Mattermost.Messages
	if m.OutboxConcurrency != 16 || m.OutboxProbeInterval.D() != time.Second {
		t.Errorf("defaults %d, %s; want 16, 1s", m.OutboxConcurrency, m.OutboxProbeInterval.D())
	}
	path := writeFile(t, "mattermost:\n  outbox_concurrency: 4\n  outbox_probe_interval: 250ms\n")
	if cfg, err := LoadConfig(path, nil); err != nil || cfg.Mattermost.Messages.OutboxConcurrency != 4 || cfg.Mattermost.Messages.OutboxProbeInterval.D() != 250*time.Millisecond {
		t.Errorf("from YAML: %+v %v", cfg.Mattermost.Messages, err)
	}
	env := []string{"COUNTERSIGN_MATTERMOST_OUTBOX_CONCURRENCY=64", "COUNTERSIGN_MATTERMOST_OUTBOX_PROBE_INTERVAL=5s"}
	if cfg, err := LoadConfig(path, env); err != nil || cfg.Mattermost.Messages.OutboxConcurrency != 64 || cfg.Mattermost.Messages.OutboxProbeInterval.D() != 5*time.Second {
		t.Errorf("from the environment: %+v %v", cfg.Mattermost.Messages, err)
	}
	for yaml, key := range map[string]string{
		"mattermost:\n  outbox_concurrency: 0\n":        "outbox_concurrency",
		"mattermost:\n  outbox_concurrency: 257\n":      "outbox_concurrency",
		"mattermost:\n  outbox_probe_interval: 10ms\n":  "outbox_probe_interval",
		"mattermost:\n  outbox_probe_interval: 2m\n":    "outbox_probe_interval",
		"mattermost:\n  outbox_probe_interval: often\n": "not a duration",
	} {
		if _, err := LoadConfig(writeFile(t, yaml), nil); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%q: %v, want an error naming %s", yaml, err, key)
		}
	}
}
