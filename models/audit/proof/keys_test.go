package proof_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/countersign/countersign/models/audit/audittest"
	"github.com/countersign/countersign/models/audit/proof"
)

func TestLoadOrCreateKey(t *testing.T) {
	dir := t.TempDir()
	k, err := proof.LoadOrCreateKey(dir, audittest.Origin)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, proof.KeyFileName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", st.Mode().Perm(), err)
	}
	pub, err := os.ReadFile(filepath.Join(dir, proof.VerifierKeyFileName))
	if err != nil || strings.TrimSpace(string(pub)) != k.VerifierKey() {
		t.Fatalf("public key file %q, %v", pub, err)
	}
	if !strings.HasPrefix(k.VerifierKey(), audittest.Origin+"+") || k.Origin() != audittest.Origin {
		t.Fatalf("verifier key %q", k.VerifierKey())
	}
	again, err := proof.LoadOrCreateKey(dir, audittest.Origin)
	if err != nil || again.VerifierKey() != k.VerifierKey() {
		t.Fatalf("second start made another key: %v", err)
	}
	if _, err := proof.LoadOrCreateKey(dir, "other.test/audit"); err == nil {
		t.Fatal("key for another origin accepted")
	}
	if err := os.Chmod(filepath.Join(dir, proof.KeyFileName), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := proof.LoadOrCreateKey(dir, audittest.Origin); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key accepted: %v", err)
	}
	for _, bad := range []string{"", "a b", "a+b", "tab\there"} {
		if _, err := proof.LoadOrCreateKey(t.TempDir(), bad); err == nil {
			t.Errorf("origin %q accepted", bad)
		}
	}
	if _, err := proof.LoadOrCreateKey(filepath.Join(dir, "missing"), audittest.Origin); err == nil {
		t.Fatal("missing directory accepted")
	}
}

func TestLoadOrCreateKeyRace(t *testing.T) {
	dir := t.TempDir()
	keys := make([]string, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := proof.LoadOrCreateKey(dir, audittest.Origin)
			if err != nil {
				t.Error(err)
				return
			}
			keys[i] = k.VerifierKey()
		}()
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if k != keys[0] {
			t.Fatalf("processes starting together got different keys: %q", keys)
		}
	}
}

func TestKeyNeverShowsPrivateKey(t *testing.T) {
	k, skey, err := proof.GenerateKey(audittest.Origin)
	if err != nil {
		t.Fatal(err)
	}
	// PRIVATE+KEY+<name>+<hash>+<base64>: the base64 may itself hold "+",
	// so split at the first four separators only (the part after the
	// last "+" can be a few characters that turn up anywhere).
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 || len(parts[4]) < 40 {
		t.Fatalf("unexpected private key form %d parts", len(parts))
	}
	secret := parts[4]
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("key", "key", k)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k), fmt.Sprintf("%v", struct{ K *proof.Key }{k}), logged.String()} {
		if strings.Contains(s, secret) || strings.Contains(s, "PRIVATE") {
			t.Fatalf("private key shown: %s", s)
		}
	}
	parsed, err := proof.ParseKey(skey + "\n")
	if err != nil || parsed.VerifierKey() != k.VerifierKey() {
		t.Fatalf("ParseKey: %v", err)
	}
	if _, err := proof.ParseKey("PRIVATE+KEY+x+00000000+AAAA"); err == nil || strings.Contains(err.Error(), "AAAA") {
		t.Fatalf("bad key: %v", err)
	}
}

func TestOriginFromURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://cs.example.com":       "cs.example.com/audit",
		"https://cs.example.com/":      "cs.example.com/audit",
		"http://127.0.0.1:8080/portal": "127.0.0.1:8080/portal/audit",
	} {
		if got := proof.OriginFromURL(in); got != want || proof.ValidOrigin(got) != nil {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
}
