package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/models/storetest"
)

func TestAuditExportAndOfflineVerification(t *testing.T) {
	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "cs.db")
	s := storetest.OpenDSN(t, dsn)
	seedDemo(t, s)
	bundle := filepath.Join(dir, "audit.bundle")
	code, out, errOut := runCmd("audit", "export", "--db", dsn, "--data", dir, "--origin", "cs.example.com/audit", "--out", bundle)
	if code != exitOK || !strings.Contains(out, "wrote events 1–6") {
		t.Fatalf("export: exit %d %q %q", code, out, errOut)
	}
	pub, err := os.ReadFile(filepath.Join(dir, proof.VerifierKeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(pub))
	// Key given inline and as a file.
	for _, k := range []string{key, filepath.Join(dir, proof.VerifierKeyFileName)} {
		code, out, errOut = runCmd("audit", "verify", "--bundle", bundle, "--key", k)
		if code != exitOK || !strings.Contains(out, "bundle VALID") {
			t.Fatalf("verify (key %q): exit %d %q %q", k, code, out, errOut)
		}
	}
	// One byte changed in an event line: named, exit 1.
	raw, _ := os.ReadFile(bundle)
	tampered := filepath.Join(dir, "tampered.bundle")
	if err := os.WriteFile(tampered, []byte(strings.Replace(string(raw), "OOM loop", "OOM l00p", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCmd("audit", "verify", "--bundle", tampered, "--key", key)
	if code != exitFailure || !strings.Contains(out, "INVALID") {
		t.Fatalf("tampered bundle: exit %d %q", code, out)
	}
	// A key the bundle was not signed with.
	other, _, err := proof.GenerateKey("cs.example.com/audit")
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCmd("audit", "verify", "--bundle", bundle, "--key", other.VerifierKey())
	if code != exitFailure || !strings.Contains(out, "INVALID") {
		t.Fatalf("unknown key: exit %d %q", code, out)
	}
	if code, _, _ := runCmd("audit", "verify", "--bundle", bundle); code != exitUsage {
		t.Fatalf("no key: exit %d, want 2", code)
	}

	// A receipt for the first decision-free event, checked offline.
	k, err := proof.LoadOrCreateKey(dir, "cs.example.com/audit")
	if err != nil {
		t.Fatal(err)
	}
	cp, err := proof.NewCheckpointer(s, k)
	if err != nil {
		t.Fatal(err)
	}
	r, err := cp.Receipt(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	rf := filepath.Join(dir, "receipt.json")
	if err := os.WriteFile(rf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCmd("audit", "verify-receipt", "--receipt", rf, "--key", key)
	if code != exitOK || !strings.HasPrefix(out, "OK: event 2") {
		t.Fatalf("receipt: exit %d %q", code, out)
	}
	if err := os.WriteFile(rf, []byte(strings.Replace(string(b), "Credential exposed", "Credential expired", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCmd("audit", "verify-receipt", "--receipt", rf, "--key", key)
	if code != exitFailure || !strings.HasPrefix(out, "INVALID") {
		t.Fatalf("tampered receipt: exit %d %q", code, out)
	}
}

// TestDecisionStrengthFromAReceipt: verify-receipt reads the strength a
// password-only decision's event states, and nothing from other events.
func TestDecisionStrengthFromAReceipt(t *testing.T) {
	for payload, want := range map[string]string{
		`{"step_up":{"acr":"","strength":"password re-entry only"}}`: "password re-entry only",
		`{"step_up":{"acr":"urn:mfa"}}`:                              "",
		`{"reason":"expired"}`:                                       "",
		`not json`:                                                   "",
	} {
		if got := decisionStrength(payload); got != want {
			t.Errorf("decisionStrength(%s) = %q, want %q", payload, got, want)
		}
	}
}
