//go:build faults

package faults

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// settings are the suite's sizes and switches, from the environment so
// CI and a maintainer's long run use the same code. Variables start with
// COUNTERSIGN_TEST_ because `countersign serve` refuses unknown
// COUNTERSIGN_* variables but ignores that prefix, so exporting them in a
// shell does not break a server started from it.
type settings struct {
	// Clients is the number of concurrent clients (COUNTERSIGN_TEST_FAULTS_CLIENTS, 16).
	Clients int
	// Ops is the number of answered operations per scenario
	// (COUNTERSIGN_TEST_FAULTS_OPS, 600).
	Ops int
	// Kills is how many times the server is killed per scenario
	// (COUNTERSIGN_TEST_FAULTS_KILLS, 3).
	Kills int
	// Drain bounds the wait for the outbox to empty after the load
	// (COUNTERSIGN_TEST_FAULTS_DRAIN, 20s).
	Drain time.Duration
	// KillPostgres allows stopping the PostgreSQL server with
	// "pg_ctlcluster … stop -m immediate" under load
	// (COUNTERSIGN_TEST_FAULTS_KILL_POSTGRES=1). Off by default: other
	// tests may be using that server.
	KillPostgres bool
	// PGCluster is "VERSION NAME" of the cluster to kill
	// (COUNTERSIGN_TEST_FAULTS_PG_CLUSTER; default: the newest version
	// under /etc/postgresql, cluster main). It must be the server that
	// COUNTERSIGN_TEST_POSTGRES points at.
	PGCluster []string
	// Seed makes the random choices repeatable (COUNTERSIGN_TEST_FAULTS_SEED;
	// default: the clock). Timing still differs between runs.
	Seed int64
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func loadSettings(t testing.TB) settings {
	s := settings{
		Clients:      envInt("COUNTERSIGN_TEST_FAULTS_CLIENTS", 16),
		Ops:          envInt("COUNTERSIGN_TEST_FAULTS_OPS", 600),
		Kills:        envInt("COUNTERSIGN_TEST_FAULTS_KILLS", 3),
		Drain:        20 * time.Second,
		KillPostgres: os.Getenv("COUNTERSIGN_TEST_FAULTS_KILL_POSTGRES") == "1",
		Seed:         time.Now().UnixNano(),
	}
	if v := os.Getenv("COUNTERSIGN_TEST_FAULTS_DRAIN"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("COUNTERSIGN_TEST_FAULTS_DRAIN: %v", err)
		}
		s.Drain = d
	}
	if v := os.Getenv("COUNTERSIGN_TEST_FAULTS_SEED"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("COUNTERSIGN_TEST_FAULTS_SEED: %v", err)
		}
		s.Seed = n
	}
	if v := os.Getenv("COUNTERSIGN_TEST_FAULTS_PG_CLUSTER"); v != "" {
		s.PGCluster = strings.Fields(v)
	}
	return s
}

// buildDir holds the binary built once for the whole test process.
var (
	buildOnce sync.Once
	buildDir  string
	buildPath string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binary builds cmd/countersign once (go build, as a maintainer would)
// and returns its path.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "countersign-faults-bin-")
		if buildErr != nil {
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		buildPath = filepath.Join(buildDir, "countersign")
		cmd := exec.Command(goTool, "build", "-o", buildPath, "github.com/countersign/countersign/cmd/countersign")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/countersign: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// freePort returns a port that was free a moment ago. The server keeps
// it across restarts, so links and grant issuers stay the same.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// childEnv is the environment of every countersign process: the test's
// own, without COUNTERSIGN_* variables (the configuration file says
// everything, and a stray variable would change what is tested).
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COUNTERSIGN_") {
			env = append(env, kv)
		}
	}
	return env
}

// runCLI runs a countersign subcommand to completion and returns its exit
// code and output.
func runCLI(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = childEnv()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("countersign %s: %v", strings.Join(args, " "), err)
	}
	return code, o.String(), e.String()
}

// proc is one `countersign serve` OS process, restartable under the same
// address and configuration. Its stdout and stderr go to one log file
// kept across restarts.
type proc struct {
	t       testing.TB
	name    string
	config  string
	base    string
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	starts int
}

func newProc(t testing.TB, name, config, base, logPath string) *proc {
	p := &proc{t: t, name: name, config: config, base: base, logPath: logPath}
	t.Cleanup(func() { p.kill() })
	return p
}

// start runs the server and waits until /readyz answers 200.
func (p *proc) start() error {
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(binary(p.t), "serve", "--config", p.config)
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("%s: start: %w", p.name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(exited)
	}()
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.starts++
	p.mu.Unlock()
	return p.waitReady(exited, 90*time.Second)
}

// waitReady polls /readyz until 200, the process exits, or timeout.
func (p *proc) waitReady(exited chan struct{}, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("%s exited during start: %s", p.name, p.logTail(20))
		default:
		}
		if resp, err := client.Get(p.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s: %s", p.name, timeout, p.logTail(20))
}

// ready reports whether /readyz answers 200 now.
func (p *proc) ready() bool {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(p.base + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// stop asks for a graceful shutdown (SIGTERM) and returns the exit code.
func (p *proc) stop() (int, error) {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return 0, errors.New(p.name + ": not started")
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return cmd.ProcessState.ExitCode(), nil
	case <-time.After(30 * time.Second):
		p.kill()
		return -1, fmt.Errorf("%s did not stop within 30s of SIGTERM", p.name)
	}
}

// logs returns everything the process wrote, across restarts.
func (p *proc) logs() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// logTail returns the last n lines of the log.
func (p *proc) logTail(n int) string {
	lines := strings.Split(strings.TrimRight(p.logs(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
