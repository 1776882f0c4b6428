package mmreal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// Server is a running Mattermost server on a database of its own, with
// its system administrator signed in.
type Server struct {
	// URL is the site URL, http://127.0.0.1:<port>.
	URL string
	// Dir holds config.json, mattermost.log and mattermost.pid.
	Dir string
	// Admin is the system administrator (the first user created).
	Admin *User

	pid      int
	db       *database
	watchdog *exec.Cmd
	stopOnce sync.Once
	stopErr  error
}

// password is every harness account's password: it meets the
// server's default rules and protects nothing (the server lives for one
// test binary, on loopback).
const password = "Countersign-test-1!"

// Start runs a Mattermost server for t alone, stopped (and its database
// dropped) when t ends. Prefer Shared: a server takes seconds to start.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start(os.TempDir())
	if err != nil {
		var ue *unavailableError
		if errors.As(err, &ue) {
			unavailable(t, ue.why)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// start makes a database, runs the start script on a free port in a new
// directory under tmp, and creates the administrator.
func start(tmp string) (*Server, error) {
	script, err := StartScript()
	if err != nil {
		return nil, &unavailableError{err.Error()}
	}
	db, err := createDatabase(context.Background())
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(tmp, "mmreal-")
	if err != nil {
		_ = db.drop()
		return nil, fmt.Errorf("mmreal: server directory: %w", err)
	}
	port, err := FreePort()
	if err != nil {
		_ = db.drop()
		return nil, err
	}
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port), Dir: dir, db: db}
	cmd := exec.Command(script, "--dir", dir, "--port", strconv.Itoa(port), "--db", db.dsn)
	out, runErr := cmd.CombinedOutput()
	if pid, err := readPID(dir); err == nil {
		s.pid = pid
		s.watch()
	}
	if runErr != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("mmreal: %s: %v: %s", script, runErr, strings.TrimSpace(string(out)))
	}
	if !strings.Contains(string(out), "MM_URL="+s.URL) {
		_ = s.Stop()
		return nil, fmt.Errorf("mmreal: start printed %q, want MM_URL=%s", out, s.URL)
	}
	if s.Admin, err = s.bootstrapAdmin(context.Background()); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// bootstrapAdmin creates the first user, whom Mattermost makes system
// administrator, and signs in.
func (s *Server) bootstrapAdmin(ctx context.Context) (*User, error) {
	anon := model.NewAPIv4Client(s.URL)
	u, _, err := anon.CreateUser(ctx, &model.User{Username: "sysadmin", Email: "sysadmin@example.com", Password: password})
	if err != nil {
		return nil, fmt.Errorf("mmreal: create the administrator: %w", err)
	}
	if !strings.Contains(u.Roles, model.SystemAdminRoleId) {
		return nil, fmt.Errorf("mmreal: the first user has roles %q, not %s", u.Roles, model.SystemAdminRoleId)
	}
	return s.login(ctx, u)
}

// login signs u in with the harness password and returns it with its
// client.
func (s *Server) login(ctx context.Context, u *model.User) (*User, error) {
	c := model.NewAPIv4Client(s.URL)
	if _, _, err := c.Login(ctx, u.Username, password); err != nil {
		return nil, fmt.Errorf("mmreal: sign in %s: %w", u.Username, err)
	}
	return &User{User: u, Password: password, Client: c}, nil
}

// watch starts a watchdog process that stops the server if this test
// binary dies without cleaning up (a panic, a timeout, a kill): no
// Mattermost is ever left running. It runs in its own process group so a
// Ctrl-C to the test does not take it down first.
func (s *Server) watch() {
	script := fmt.Sprintf(`while kill -0 %d 2>/dev/null; do sleep 1; done
kill %d 2>/dev/null; sleep 15; kill -9 %d 2>/dev/null`, os.Getpid(), s.pid, s.pid)
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if cmd.Start() == nil {
		s.watchdog = cmd
	}
}

// Stop stops the server (SIGTERM, SIGKILL after 15 s), waits until the
// process is gone, drops its database and removes its directory. It is
// safe to call more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		var errs []error
		if s.pid > 0 {
			if err := stopProcess(s.pid, 15*time.Second); err != nil {
				errs = append(errs, err)
			}
		}
		if s.watchdog != nil {
			_ = syscall.Kill(-s.watchdog.Process.Pid, syscall.SIGKILL)
			_ = s.watchdog.Wait()
		}
		if s.db != nil {
			if err := s.db.drop(); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) == 0 {
			_ = os.RemoveAll(s.Dir)
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

// stopProcess sends SIGTERM, then SIGKILL after grace, and waits until
// pid is gone. The server is not this process's child (the start script
// backgrounds it), so its end is observed, not waited for.
func stopProcess(pid int, grace time.Duration) error {
	if !alive(pid) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for range 100 {
		if !alive(pid) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("mmreal: mattermost (pid %d) survived SIGKILL", pid)
}

// alive reports whether pid runs (a zombie waiting to be reaped does not).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return !os.IsNotExist(err)
	}
	// pid (comm) state …: the state follows the last parenthesis.
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// readPID reads DIR/mattermost.pid.
func readPID(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "mattermost.pid"))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// FreePort returns a loopback TCP port nobody listens on right now.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("mmreal: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
