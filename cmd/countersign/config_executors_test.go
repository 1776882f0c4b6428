package main

import (
	"strings"
	"testing"
	"time"
)

func TestExecutorsConfig(t *testing.T) {
	good := "executors:\n  deployer:\n    url: https://deployer.internal/run\n    token_env: DEPLOYER_TOKEN\n    timeout: 20s\n    max_attempts: 3\n"
	cfg, err := LoadConfig(writeFile(t, good), []string{"DEPLOYER_TOKEN=0123456789abcdef-secret"})
	if err != nil {
		t.Fatal(err)
	}
	x := cfg.Executors["deployer"]
	if x.URL != "https://deployer.internal/run" || x.Token != "0123456789abcdef-secret" || x.Timeout.D() != 20*time.Second || x.MaxAttempts != 3 {
		t.Fatalf("executor %+v", x)
	}
	if strings.Contains(x.String(), "secret") {
		t.Fatal("String shows the token")
	}
	for _, c := range []struct{ body, env, want string }{
		{good, "", "DEPLOYER_TOKEN (token_env) is not set"},
		{strings.Replace(good, "https://deployer.internal/run", "ftp://x", 1), "DEPLOYER_TOKEN=0123456789abcdef-secret", "url"},
		{good, "DEPLOYER_TOKEN=short", "at least 16"},
		{good + "    bogus: 1\n", "DEPLOYER_TOKEN=0123456789abcdef-secret", "bogus"},
		{strings.Replace(good, "deployer:", "Bad Name:", 1), "DEPLOYER_TOKEN=0123456789abcdef-secret", "valid executor name"},
		{strings.Replace(good, "max_attempts: 3", "max_attempts: 99", 1), "DEPLOYER_TOKEN=0123456789abcdef-secret", "max_attempts"},
		{good, "DEPLOYER_TOKEN=0123456789abcdef-secret\x00COUNTERSIGN_EXECUTORS=x", "configuration file"},
	} {
		env := strings.Split(c.env, "\x00")
		if _, err := LoadConfig(writeFile(t, c.body), env); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q with %q: got %v, want %q", c.body, c.env, err, c.want)
		}
	}
}
