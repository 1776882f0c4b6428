package main

import (
	"strings"
	"testing"
	"time"
)

func TestResultTimeoutConfig(t *testing.T) {
	cfg, err := LoadConfig(writeFile(t, ""), nil)
	if err != nil || cfg.Request.ResultTimeout.D() != time.Hour {
		t.Fatalf("default: %s %v", cfg.Request.ResultTimeout.D(), err)
	}
	cfg, err = LoadConfig(writeFile(t, "requests:\n  result_timeout: 90m\n"), nil)
	if err != nil || cfg.Request.ResultTimeout.D() != 90*time.Minute {
		t.Fatalf("file: %s %v", cfg.Request.ResultTimeout.D(), err)
	}
	cfg, err = LoadConfig(writeFile(t, ""), []string{"COUNTERSIGN_REQUESTS_RESULT_TIMEOUT=2h"})
	if err != nil || cfg.Request.ResultTimeout.D() != 2*time.Hour {
		t.Fatalf("environment: %s %v", cfg.Request.ResultTimeout.D(), err)
	}
	exec := "executors:\n  deployer:\n    url: https://deployer.internal/run\n    token: 0123456789abcdef-secret\n    timeout: 5m\n"
	if _, err := LoadConfig(writeFile(t, exec+"requests:\n  result_timeout: 10m\n"), nil); err != nil {
		t.Fatalf("a timeout longer than the executor's: %v", err)
	}
	for _, c := range []struct{ body, env, want string }{
		{"requests:\n  result_timeout: 30s\n", "", "between 1m and 168h"},
		{"requests:\n  result_timeout: 0s\n", "", "between 1m and 168h"},
		{"requests:\n  result_timeout: 200h\n", "", "between 1m and 168h"},
		{"requests:\n  result_timeout: soon\n", "", "not a duration"},
		{"", "COUNTERSIGN_REQUESTS_RESULT_TIMEOUT=-1h", "between 1m and 168h"},
		{exec + "requests:\n  result_timeout: 5m\n", "", "longer than executors.deployer.timeout"},
	} {
		if _, err := LoadConfig(writeFile(t, c.body), []string{c.env}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q with %q: got %v, want %q", c.body, c.env, err, c.want)
		}
	}
}
