package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServeRefusesABadPolicyFileWithItsLine(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte("version: 1\nroles: {sre: {}}\nrules:\n  - {name: a, when: \"true\", require: {roles: [dba]}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, fmt.Sprintf("listen: 127.0.0.1:0\ndata_dir: %s\ndatabase: sqlite:%s/cs.db\npolicy:\n  file: %s\n", dir, dir, pol))
	code, _, stderr := runCmd("serve", "--config", cfg)
	if code != exitUsage || !strings.Contains(stderr, pol+":4:") || !strings.Contains(stderr, `unknown role "dba"`) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestPolicyConfigValidation(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]struct{ body, want string }{
		"missing file":      {"policy:\n  file: " + filepath.Join(dir, "nope.yaml") + "\n", "policy.file"},
		"directory":         {"policy:\n  file: " + dir + "\n", "is a directory"},
		"interval too fast": {"policy:\n  reload_interval: 10ms\n", "policy.reload_interval"},
		"unknown key":       {"policy:\n  fiel: x\n", "unknown field"},
	} {
		if _, err := LoadConfig(writeFile(t, c.body), nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	pol := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(pol, []byte("version: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(writeFile(t, "policy:\n  reload_interval: 2s\n"), []string{"COUNTERSIGN_POLICY_FILE=" + pol})
	if err != nil || cfg.Policy.File != pol || cfg.Policy.interval().String() != "2s" {
		t.Fatalf("%+v %v", cfg.Policy, err)
	}
}
