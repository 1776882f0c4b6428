package main

import (
	"strings"
	"testing"
	"time"
)

// mattermost.cache_ttl is 30s by default, 0 turns the cache off, and it
// stays short-lived (at most 5m, never negative), from YAML or the
// environment.
func TestMattermostCacheConfig(t *testing.T) {
	cfg, err := LoadConfig("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Mattermost.CacheTTL.D(); got != 30*time.Second {
		t.Errorf("default %s, want 30s", got)
	}
	off := writeFile(t, "mattermost:\n  cache_ttl: 0s\n")
	if cfg, err := LoadConfig(off, nil); err != nil || cfg.Mattermost.CacheTTL.D() != 0 {
		t.Errorf("cache_ttl 0s: %s %v, want off", cfg.Mattermost.CacheTTL.D(), err)
	}
	if cfg, err := LoadConfig(off, []string{"COUNTERSIGN_MATTERMOST_CACHE_TTL=1m"}); err != nil || cfg.Mattermost.CacheTTL.D() != time.Minute {
		t.Errorf("env 1m: %s %v", cfg.Mattermost.CacheTTL.D(), err)
	}
	if _, err := LoadConfig(writeFile(t, "mattermost:\n  cache_ttl: soon\n"), nil); err == nil || !strings.Contains(err.Error(), "not a duration") {
		t.Errorf("cache_ttl soon: %v", err)
	}
	for _, bad := range []string{"-1s", "6m"} {
		_, err := LoadConfig(writeFile(t, "mattermost:\n  cache_ttl: "+bad+"\n"), nil)
		if err == nil || !strings.Contains(err.Error(), "cache_ttl") {
			t.Errorf("cache_ttl %s: %v, want an error naming mattermost.cache_ttl", bad, err)
		}
	}
}
