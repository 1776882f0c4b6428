package main

import (
	"errors"
	"strings"
	"testing"
)

// Files on which goccy/go-yaml v1.19.2 panics instead of returning an
// error (issue 10) are refused with a message, never a Go stack.

func TestPolicyLintRefusesAFileTheYAMLLibraryFailsOn(t *testing.T) {
	dir := t.TempDir()
	bad := writePolicyFile(t, dir, "policy.yaml", "rules: ! ")
	code, out, errOut := runCmd("policy", "lint", bad)
	if code != exitFailure {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitFailure, out, errOut)
	}
	if want := bad + ":1: the YAML could not be read"; !strings.HasPrefix(out, want) {
		t.Errorf("stdout %q, want it to start with %q", out, want)
	}
	if !strings.Contains(errOut, "1 problem; nothing of it was loaded") {
		t.Errorf("stderr %q", errOut)
	}
	for _, s := range []string{"goroutine", "panic", "runtime error"} {
		if strings.Contains(out+errOut, s) {
			t.Errorf("output mentions %q:\n%s%s", s, out, errOut)
		}
	}

	good := writePolicyFile(t, dir, "good.yaml", "version: 1\nactions: [{name: a}]\nrules:\n  - {name: all, when: \"true\", auto_approve: {}}\n")
	cases := writePolicyFile(t, dir, "good.cases.yaml", "- name: x\n  request: {action: a}\n  expect: {outcome: auto_approve}\n  windows: !\n")
	code, out, errOut = runCmd("policy", "test", good, cases)
	if code != exitFailure || !strings.HasPrefix(out, cases+":4: the YAML could not be read") || strings.Contains(out+errOut, "goroutine") {
		t.Errorf("policy test: exit %d\n%s%s", code, out, errOut)
	}
}

func TestConfigRefusesAFileTheYAMLLibraryFailsOn(t *testing.T) {
	p := writeFile(t, "listen: 127.0.0.1:8080\noidc:\n  scopes: !\n")
	_, err := LoadConfig(p, nil)
	var ce *configError
	if !errors.As(err, &ce) || err.Error() != "config: "+p+":3: the YAML could not be read (the parser failed on this input)" {
		t.Fatalf("LoadConfig: %v", err)
	}
	// Agents are decoded apart from the rest of the file, so their line
	// would be wrong: it is left out.
	p2 := writeFile(t, "listen: 127.0.0.1:8080\nagents:\n  - name: x\n    roles: !\n")
	if _, err := LoadConfig(p2, nil); err == nil || !strings.HasSuffix(err.Error(), "agents: the YAML could not be read (the parser failed on this input)") {
		t.Fatalf("agents: %v", err)
	}
	code, out, errOut := runCmd("serve", "--config", p)
	if code != exitUsage || !strings.Contains(errOut, p+":3: the YAML could not be read") || strings.Contains(out+errOut, "goroutine") {
		t.Fatalf("serve: exit %d\n%s%s", code, out, errOut)
	}
}
