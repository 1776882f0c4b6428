package main

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzConfig feeds configuration files to LoadConfig. It must never
// panic; a refusal is a configuration error (exit status 2) in one line
// without a Go stack; an accepted file loads the same way twice and
// passes Validate again.
func FuzzConfig(f *testing.F) {
	example, err := os.ReadFile("../../docs/countersign.example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	for _, s := range []string{
		"", "listen: 127.0.0.1:1\ndatabse: x\n", "http:\n  body_limit: 512K\n  shutdown_timeout: 20s\n",
		"oidc:\n  scopes: !\n", "agents:\n  - name: x\n    roles: !\n",
		"mattermost:\n  site_url: https://chat.example.com\n  bot_token: t\n  command_tokens: [0123456789abcdef]\nagents: [{name: bot, bot_user_id: bwhaznx8ujbmfdw1xpbpz5sezw, sponsor: admin, roles: [sre]}]\n",
		"requests: {default_ttl: 2h, result_timeout: 30m}\naudit: {checkpoint_interval: 1m}\n",
		"executors: {kube: {url: \"https://x.example/run\", token_env: KUBE_TOKEN}}\n",
		"listen: &a 127.0.0.1:9\npublic_url: *a\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "countersign.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfig(path, nil)
		if err != nil {
			var ce *configError
			msg := err.Error()
			if !errors.As(err, &ce) || exitCode(err) != exitUsage || msg == "" || strings.Contains(msg, "\n") {
				t.Fatalf("refusal %#v is not a configuration error", err)
			}
			for _, s := range []string{"goroutine ", "panic:", "runtime error", "nil pointer"} {
				if strings.Contains(msg, s) {
					t.Fatalf("the refusal shows a Go failure (%q): %s", s, msg)
				}
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("loaded, then refused: %v", err)
		}
		again, err := LoadConfig(path, nil)
		if err != nil || !reflect.DeepEqual(cfg, again) {
			t.Fatalf("a second load differs: %v\n%+v\n%+v", err, cfg, again)
		}
	})
}
