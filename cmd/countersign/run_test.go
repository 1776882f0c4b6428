package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/models/storetest"
)

func runCmd(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e, nil)
	return code, o.String(), e.String()
}

func TestUsageErrorsExitTwo(t *testing.T) {
	cases := [][]string{
		{},
		{"launch"},
		{"serve"},
		{"serve", "--config"},
		{"serve", "--config", "x.yaml", "extra"},
		{"demo", "--bogus"},
		{"audit"},
		{"audit", "verify"},
		{"audit", "verify", "--db", "sqlite:x.db", "--config", "y.yaml"},
	}
	for _, args := range cases {
		code, _, stderr := runCmd(args...)
		if code != exitUsage || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 with a message", args, code, stderr)
		}
	}
}

func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"serve", "--help"}, {"demo", "--help"}, {"audit", "verify", "--help"}, {"audit", "--help"}, {"version"}} {
		code, stdout, stderr := runCmd(args...)
		if code != exitOK || (stdout+stderr) == "" {
			t.Errorf("%v: exit %d", args, code)
		}
	}
}

func TestServeStartupErrorsAreOneLineAndExitTwo(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "afile")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		config string
		want   string
	}{
		"unknown key":       {"listen: 127.0.0.1:0\nlisen: x\n", "unknown"},
		"invalid dsn":       {"database: mysql://x/y\n", "unsupported scheme"},
		"unreachable db":    {"database: postgres://postgres@127.0.0.1:1/test?connect_timeout=2\n", "unreachable"},
		"unwritable dir":    {"database: sqlite:" + filepath.Join(file, "cs.db") + "\n", "not a directory"},
		"missing directory": {"database: sqlite:" + filepath.Join(dir, "nope", "cs.db") + "\n", "does not exist"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := writeFile(t, c.config)
			code, _, stderr := runCmd("serve", "--config", cfg)
			if code != exitUsage || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("exit %d, stderr %q; want exit 2 and one line containing %q", code, stderr, c.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "nope")); !os.IsNotExist(err) {
		t.Fatal("a failed start created the missing directory")
	}
}

// startServer runs args in the background and returns the base URL it
// prints, plus a stop function that returns the exit code.
func startServer(t *testing.T, env []string, args ...string) (string, *storetest.SyncBuffer, func() int) {
	t.Helper()
	base, stdout, _, stop := startServerLogs(t, env, args...)
	return base, stdout, stop
}

// startServerLogs is startServer that also returns what the server wrote
// to stderr (its log).
func startServerLogs(t *testing.T, env []string, args ...string) (string, *storetest.SyncBuffer, *storetest.SyncBuffer, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &storetest.SyncBuffer{}, &storetest.SyncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, stdout, stderr, env) }()
	re := regexp.MustCompile(`listening on (http://[a-z0-9.:]+)|"addr":"([0-9.:]+)"`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(stdout.String() + stderr.String()); m != nil {
			base := m[1]
			if base == "" {
				base = "http://" + m[2]
			}
			return base, stdout, stderr, func() int {
				cancel()
				select {
				case code := <-done:
					return code
				case <-time.After(30 * time.Second):
					t.Fatal("server did not shut down")
					return -1
				}
			}
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("exited early with %d: %s %s", code, stdout.String(), stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("no listening line: %s %s", stdout.String(), stderr.String())
	return "", nil, nil, nil
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestDemoServesSeedsAndShutsDownCleanly(t *testing.T) {
	data := filepath.Join(t.TempDir(), "demo")
	base, stdout, stop := startServer(t, nil, "demo", "--data", data, "--addr", "127.0.0.1:0")
	if code, body := get(t, base+"/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("healthz %d %q", code, body)
	}
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Fatalf("readyz %d", code)
	}
	// Four sample requests plus three submitted under the demo policy
	// (one denied, one approved automatically, one window request).
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stdout.String(), "demo requests seeded") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(stdout.String(), "8 demo requests seeded") || !strings.Contains(stdout.String(), "policy.yaml@") {
		t.Fatalf("demo output lacks the seed line: %s", stdout.String())
	}
	if code := stop(); code != exitOK {
		t.Fatalf("demo exit %d", code)
	}
	// A second start keeps the data and seeds nothing.
	base, stdout, stop = startServer(t, nil, "demo", "--data", data, "--addr", "127.0.0.1:0")
	// The banner (QR codes first) may still be printing when the port opens.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stdout.String(), "demo requests seeded") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(stdout.String(), "0 demo requests seeded") {
		t.Fatalf("second start re-seeded: %s", stdout.String())
	}
	if code := stop(); code != exitOK {
		t.Fatalf("demo exit %d", code)
	}
	_ = base
	// The audit chain the demo wrote verifies, and holds what the two
	// starts did: 4 sample requests (6 events), the policy loaded at each
	// start, three policy submissions (denied, approved automatically, a
	// window request), the grant key and the grants of the two approved
	// requests. The example executor may already have run the
	// auto-approved one; its events come on top.
	dsn := "sqlite:" + filepath.Join(data, "countersign.db")
	code, out, errOut := runCmd("audit", "verify", "--db", dsn)
	if code != exitOK || !regexp.MustCompile(`^ok [0-9]+ events, head [0-9a-f]{64}\nok Merkle tree: [^\n]+\n$`).MatchString(out) {
		t.Fatalf("verify: exit %d, %q %q", code, out, errOut)
	}
	got := eventTypes(t, dsn)
	want := map[string]int{
		"request.created": 8, "request.approved": 2, "request.denied": 1,
		"policy.loaded": 2, "grant.key_created": 1, "grant.issued": 2,
	}
	for typ, n := range want {
		if got[typ] != n {
			t.Errorf("audit events %s: %d, want %d (all: %v)", typ, got[typ], n, got)
		}
	}
	// The seeded executed request, and the auto-approved one once the
	// example executor has run it.
	if n := got["request.executed"]; n < 1 || n > 2 || n-1 != got["execution.succeeded"] {
		t.Errorf("audit events request.executed: %d with %d executions (all: %v)", n, got["execution.succeeded"], got)
	}
}

// eventTypes counts the audit events of the database at dsn by type.
func eventTypes(t *testing.T, dsn string) map[string]int {
	t.Helper()
	store, err := models.Open(context.Background(), models.OpenOptions{DSN: dsn, Existing: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var rows []struct {
		Type string
		N    int
	}
	if err := store.DB(context.Background()).Raw("SELECT type, COUNT(*) AS n FROM audit_events GROUP BY type").Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Type] = r.N
	}
	return out
}

func TestServeWithConfigAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, fmt.Sprintf("listen: 127.0.0.1:1\npublic_url: http://127.0.0.1\ndata_dir: %s\ndatabase: sqlite:%s/cs.db\nlog:\n  level: warn\n", dir, dir))
	base, _, stop := startServer(t, []string{"COUNTERSIGN_LISTEN=127.0.0.1:0", "COUNTERSIGN_LOG_LEVEL=info"}, "serve", "--config", cfg)
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, "countersign_http_requests_total") {
		t.Fatalf("metrics %d", code)
	}
	// The audit verifier key is created in the data directory at first
	// start and published at the well-known URL.
	pub, err := os.ReadFile(filepath.Join(dir, proof.VerifierKeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, base+"/.well-known/countersign-audit-key"); code != 200 || strings.TrimSpace(body) != strings.TrimSpace(string(pub)) || !strings.HasPrefix(body, "127.0.0.1/audit+") {
		t.Fatalf("audit key: %d %q, file %q", code, body, pub)
	}
	if code, out, _ := runCmd("healthcheck", "--url", base+"/readyz"); code != exitOK || out != "ok\n" {
		t.Fatalf("healthcheck of a running portal: exit %d %q", code, out)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if code, _, _ := runCmd("healthcheck", "--url", base+"/readyz", "--timeout", "1s"); code != exitFailure {
		t.Fatalf("healthcheck of a stopped portal: exit %d, want 1", code)
	}
}

func TestAuditVerifyReportsTampering(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		// The demo seed gives a realistic chain to break.
		s := b.Open(t)
		seedDemo(t, s)
		code, out, _ := runCmd("audit", "verify", "--db", b.DSN())
		if code != exitOK || !strings.HasPrefix(out, "ok 6 events, head ") || !strings.Contains(out, "ok Merkle tree: ") {
			t.Fatalf("intact: exit %d %q", code, out)
		}
		db, _ := s.SQL()
		// The stored tree state is recomputed, not trusted: a state for
		// these 6 events that is not their tree is reported.
		if _, err := db.Exec(`UPDATE audit_tree_frontier SET size = 6, compact = '` + strings.Repeat("ab", 64) + `'`); err != nil {
			t.Fatal(err)
		}
		code, out, _ = runCmd("audit", "verify", "--db", b.DSN())
		if code != exitFailure || !strings.Contains(out, "INVALID stored Merkle tree") || !strings.Contains(out, "audit_tree_frontier") {
			t.Fatalf("altered tree state: exit %d %q", code, out)
		}
		if _, err := db.Exec(`UPDATE audit_tree_frontier SET size = 0, compact = ''`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`UPDATE audit_events SET actor_display = 'mallory' WHERE seq = 3`); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCmd("audit", "verify", "--db", b.DSN())
		if code != exitFailure || !strings.Contains(out, "INVALID") || !strings.Contains(out, "event 3: hash") || !strings.Contains(errOut, "INVALID") {
			t.Fatalf("tampered: exit %d %q %q", code, out, errOut)
		}
	})
}

func TestAuditVerifyRefusesMissingDatabase(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.db")
	code, _, errOut := runCmd("audit", "verify", "--db", "sqlite:"+missing)
	if code != exitUsage || !strings.Contains(errOut, "no SQLite database") {
		t.Fatalf("exit %d %q", code, errOut)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatal("verify created a database file")
	}
}

// TestServeRefusesAReadOnlyDatabase: serve exits 2, with one line saying
// why, when its SQLite file cannot be written (every change would fail).
func TestServeRefusesAReadOnlyDatabase(t *testing.T) {
	path := storetest.ReadOnlySQLite(t)
	cfg := writeFile(t, "listen: 127.0.0.1:0\ndatabase: sqlite:"+path+"\n")
	code, _, stderr := runCmd("serve", "--config", cfg)
	if code != exitUsage || !strings.Contains(stderr, "cannot be written") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("exit %d, stderr %q; want exit 2 and one line saying the database cannot be written", code, stderr)
	}
}

// TestEveryCommandAnswersHelp: every command and subcommand the usage
// lists takes --help, prints something and exits 0, even with its required
// arguments missing.
func TestEveryCommandAnswersHelp(t *testing.T) {
	for _, cmd := range [][]string{
		{"serve"}, {"demo"}, {"audit"}, {"audit", "verify"}, {"audit", "export"}, {"audit", "verify-receipt"},
		{"agent"}, {"agent", "key"}, {"agent", "key", "create"}, {"agent", "key", "revoke"}, {"agent", "key", "list"},
		{"policy"}, {"policy", "lint"}, {"policy", "test"}, {"healthcheck"}, {"version"}, {"mattermost"}, {"mattermost", "setup"},
	} {
		for _, flag := range []string{"--help", "-h"} {
			args := append(append([]string(nil), cmd...), flag)
			code, stdout, stderr := runCmd(args...)
			if code != exitOK || strings.TrimSpace(stdout+stderr) == "" {
				t.Errorf("%v: exit %d, output %q; want 0 and the usage", args, code, stdout+stderr)
			}
		}
	}
}
