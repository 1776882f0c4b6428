package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writePolicyFile(t *testing.T, dir, name, src string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPolicyLint(t *testing.T) {
	code, out, errOut := runCmd("policy", "lint", "../../docs/policy.example.yaml")
	if code != exitOK || !strings.Contains(out, "OK (policy.example.yaml@") || errOut != "" {
		t.Fatalf("good file: %d %q %q", code, out, errOut)
	}
	code, out, _ = runCmd("policy", "lint", "demopolicy/policy.yaml")
	if code != exitOK || !strings.Contains(out, "7 rules") {
		t.Fatalf("demo policy: %d %q", code, out)
	}

	dir := t.TempDir()
	bad := writePolicyFile(t, dir, "bad.yaml", "version: 1\nroles: {sre: {}}\nrules:\n  - name: a\n    when: request.action == 1\n    deny: x\n  - name: b\n    when: \"true\"\n    require: {roles: [dba]}\n")
	code, out, errOut = runCmd("policy", "lint", bad)
	if code != exitFailure {
		t.Fatalf("bad file exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], bad+":5:") || !strings.Contains(lines[0], "CEL") ||
		!strings.HasPrefix(lines[1], bad+":9:") || !strings.Contains(lines[1], `unknown role "dba"`) {
		t.Errorf("problems:\n%s", out)
	}
	if !strings.Contains(errOut, "2 problems") {
		t.Errorf("stderr %q", errOut)
	}
	syntax := writePolicyFile(t, dir, "syntax.yaml", "version: 1\nrules: [\n")
	if code, out, _ := runCmd("policy", "lint", syntax); code != exitFailure || !strings.HasPrefix(out, syntax+":2:") {
		t.Errorf("syntax: %d %q", code, out)
	}
	if code, _, errOut := runCmd("policy", "lint", filepath.Join(dir, "missing.yaml")); code != exitFailure || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing: %d %q", code, errOut)
	}
	for _, args := range [][]string{{"policy"}, {"policy", "lint"}, {"policy", "lint", "a", "b"}, {"policy", "frobnicate"}, {"policy", "test"}} {
		if code, _, _ := runCmd(args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

func TestPolicyTest(t *testing.T) {
	code, out, errOut := runCmd("policy", "test", "../../docs/policy.example.yaml", "../../docs/policy.example.cases.yaml")
	if code != exitOK || !strings.Contains(out, "8 cases, 8 passed, 0 failed") || errOut != "" {
		t.Fatalf("example: %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "PASS  prod restart outside a window needs two: require by rule prod-changes — 2 approvals from sre or sre-leads needed, rule prod-changes, because request.params.env == \"prod\"") {
		t.Errorf("output does not say which rule matched and why:\n%s", out)
	}
	// The demo's cases sit next to its policy and are found by name.
	if code, out, _ := runCmd("policy", "test", "demopolicy/policy.yaml"); code != exitOK || !strings.Contains(out, "0 failed") {
		t.Fatalf("demo: %d\n%s", code, out)
	}

	dir := t.TempDir()
	cases := writePolicyFile(t, dir, "cases.yaml", `- name: wrong expectation
  request: {action: restart, params: {service: api, env: staging}, purpose: x}
  requester: {name: carol}
  expect: {outcome: require, rule: prod-changes}
- name: right expectation
  request: {action: restart, params: {service: api, env: staging}, purpose: x}
  requester: {name: carol}
  expect: {outcome: auto_approve}
`)
	code, out, errOut = runCmd("policy", "test", "../../docs/policy.example.yaml", cases)
	if code != exitFailure || !strings.Contains(out, "FAIL  wrong expectation: auto_approve by rule staging-auto") ||
		!strings.Contains(out, "outcome auto_approve, want require; rule staging-auto, want prod-changes") ||
		!strings.Contains(out, "PASS  right expectation") || !strings.Contains(out, "2 cases, 1 passed, 1 failed") {
		t.Fatalf("failing case: %d\n%s", code, out)
	}
	if !strings.Contains(errOut, "1 of 2") {
		t.Errorf("stderr %q", errOut)
	}
	badCases := writePolicyFile(t, dir, "bad-cases.yaml", "- name: x\n  request: {action: restart}\n  expect: {outcome: maybe}\n")
	if code, out, _ := runCmd("policy", "test", "../../docs/policy.example.yaml", badCases); code != exitFailure || !strings.HasPrefix(out, badCases+":3:") {
		t.Errorf("bad cases: %d %q", code, out)
	}
	unknownField := writePolicyFile(t, dir, "uf-cases.yaml", "- name: x\n  request: {action: restart}\n  expected: {outcome: deny}\n")
	if code, out, _ := runCmd("policy", "test", "../../docs/policy.example.yaml", unknownField); code != exitFailure || !strings.HasPrefix(out, unknownField+":3:") {
		t.Errorf("unknown field in cases: %d %q", code, out)
	}
	// A policy that does not load fails before any case runs.
	badPolicy := writePolicyFile(t, dir, "bad.yaml", "version: 1\nrulez: []\n")
	if code, out, _ := runCmd("policy", "test", badPolicy, cases); code != exitFailure || !strings.HasPrefix(out, badPolicy+":2:") {
		t.Errorf("bad policy: %d %q", code, out)
	}
	// Without CASES and without FILE.cases.yaml it is a usage error.
	lone := writePolicyFile(t, dir, "lone.yaml", "version: 1\n")
	if code, _, errOut := runCmd("policy", "test", lone); code != exitUsage || !strings.Contains(errOut, "lone.cases.yaml") {
		t.Errorf("no cases: %d %q", code, errOut)
	}
}
