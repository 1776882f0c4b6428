package searchload

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/countersign/countersign/web/demoidp"
	"github.com/countersign/countersign/web/demoidp/demoidptest"
)

// The portal's registration at the benchmark's identity provider.
const (
	clientID     = "countersign-searchload"
	clientSecret = "searchload-secret-0123456789"
)

// buildBinary builds cmd/countersign as a maintainer would and returns its
// path; the build cache makes a second build in the same run cheap.
func buildBinary(b *testing.B) string {
	b.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	path := filepath.Join(b.TempDir(), "countersign")
	out, err := exec.Command(goTool, "build", "-o", path, "github.com/countersign/countersign/cmd/countersign").CombinedOutput()
	if err != nil {
		b.Fatalf("go build ./cmd/countersign: %v\n%s", err, out)
	}
	return path
}

// server is one `countersign serve` process and the identity provider its
// portal signs people in with (in the benchmark's process).
type server struct {
	base  string
	cmd   *exec.Cmd
	log   string
	idp   string
	users map[string]demoidp.User
}

// startServer runs the binary over dsn with a configuration that turns on
// sign-in (the demo identity provider; group "audit" maps to the auditor
// role) and nothing else: no Mattermost, no policy file, no executors.
// dataDir keeps the server's keys between runs: the grant signing key the
// server creates in the database on its first start is sealed with a key
// from there.
//
// The port is fixed per data directory (port): the audit checkpoint key
// kept there is bound to the origin, which includes it.
func startServer(b *testing.B, bin, dsn, dataDir string, port int) *server {
	b.Helper()
	if !portFree(port) {
		b.Fatalf("port %d, which this benchmark's kept checkpoint key is bound to, is in use", port)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	mux := http.NewServeMux()
	idpSrv := httptest.NewServer(mux)
	b.Cleanup(idpSrv.Close)
	idp, users := demoidptest.NewProvider(b, demoidp.Config{
		Issuer:   idpSrv.URL + "/idp",
		Clients:  []demoidp.Client{{ID: clientID, Secret: clientSecret, RedirectURIs: []string{base + "/auth/callback"}}},
		TokenTTL: time.Hour,
	})
	mux.Handle(idp.PathPrefix()+"/", idp)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	config := filepath.Join(dir, "countersign.yaml")
	// A checkpoint is signed at start; the long interval keeps the
	// signer from running again during the measurement.
	cfg := fmt.Sprintf(`listen: "127.0.0.1:%d"
public_url: %q
data_dir: %q
database: %q
log: {level: warn}
audit: {checkpoint_interval: 24h}
oidc:
  issuer: %q
  client_id: %q
  client_secret: %q
  scopes: [profile, email, groups]
  roles_claim: groups
  username_claim: preferred_username
  role_map: {audit: [auditor]}
step_up: {acr_values: [%q]}
`, port, base, dataDir, dsn, idp.Issuer(), clientID, clientSecret, demoidp.ACRMFA)
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	logPath := filepath.Join(dir, "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", config)
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		close(exited)
	}()
	s := &server{base: base, cmd: cmd, log: logPath, idp: idp.Issuer(), users: users}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	if err := s.waitReady(exited, 5*time.Minute); err != nil {
		b.Fatal(err)
	}
	return s
}

// waitReady polls /readyz until it answers 200, the process exits, or
// the timeout passes.
func (s *server) waitReady(exited chan struct{}, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		select {
		case <-exited:
			return fmt.Errorf("countersign serve exited during start:\n%s", s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("countersign serve not ready after %s:\n%s", timeout, s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		if resp, err := client.Get(s.base + "/readyz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
}

// waitIdle waits until the server used less than 5% of a CPU over a
// second (the checkpoint signed at start has finished), or gives up after
// limit and says so in the benchmark's log.
func (s *server) waitIdle(b *testing.B, limit time.Duration) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for {
		before := s.cpu(b)
		select {
		case <-ctx.Done():
			b.Logf("server still busy after %s", limit)
			return
		case <-time.After(time.Second):
		}
		if s.cpu(b)-before < 50*time.Millisecond {
			return
		}
	}
}

func (s *server) logTail() string {
	data, _ := os.ReadFile(s.log)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// cpu returns the server's user + system CPU time so far, from
// /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s on Linux).
func (s *server) cpu(b *testing.B) time.Duration {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	// The command name (field 2) may hold spaces; fields count from
	// after its closing parenthesis.
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	f := strings.Fields(rest)
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// memory reads the kB figures of the server's /proc/PID/status.
func (s *server) memory(b *testing.B) map[string]float64 {
	b.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 2 && fields[1] == "kB" {
			n, _ := strconv.ParseFloat(fields[0], 64)
			out[k] = n
		}
	}
	return out
}

// loadAverage is the machine's 1-minute load average, reported beside the
// figures because the machine is shared.
func loadAverage(b *testing.B) float64 {
	b.Helper()
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	v, _ := strconv.ParseFloat(strings.Fields(string(data))[0], 64)
	return v
}

// portFree reports whether port can be listened on now.
func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// childEnv is the benchmark's environment without COUNTERSIGN_ variables:
// the configuration file says everything.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COUNTERSIGN_") {
			env = append(env, kv)
		}
	}
	return env
}
