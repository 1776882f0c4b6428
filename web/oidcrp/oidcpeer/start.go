package oidcpeer

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models/storetest"
)

// Environment variables read by Start.
const (
	// EnvDir names the directory holding server.mjs and its node_modules,
	// when the tests do not run from this source tree.
	EnvDir = "COUNTERSIGN_TEST_OIDC_PROVIDER_DIR"
	// EnvRequire, set to 1, makes a missing Node or module fail the test
	// instead of skipping it (as does CI=true).
	EnvRequire = "COUNTERSIGN_TEST_REQUIRE_OIDC_PROVIDER"
)

const startTimeout = 30 * time.Second

// Peer is a running provider, stopped when its test ends. Its methods fail
// that test on any error, so call them from the test's own goroutine.
type Peer struct {
	t      testing.TB
	issuer string
	token  string
	http   *http.Client
}

// Start runs a provider configured by cfg for the test t and waits until
// its discovery document answers. It skips t when Node or the npm module
// is missing (fails it when EnvRequire=1 or CI=true).
func Start(t testing.TB, cfg Config) *Peer {
	t.Helper()
	dir, err := serverDir()
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable(t, "node is not on PATH")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")); err != nil {
		unavailable(t, fmt.Sprintf("oidc-provider is not installed in %s", dir))
	}
	token, err := randomToken()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(cfg.server(token))
	if err != nil {
		t.Fatalf("oidcpeer: encode config: %v", err)
	}
	cfgPath := filepath.Join(t.TempDir(), "oidc-provider.json")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(node, filepath.Join(dir, "server.mjs"), cfgPath)
	cmd.Dir = dir
	stderr := &storetest.SyncBuffer{} // the server's stderr while it runs
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("oidcpeer: start node: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		// server.mjs exits when its stdin closes; kill it if it does not.
		_ = stdin.Close()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() && stderr.String() != "" {
			t.Logf("oidc-provider stderr:\n%s", stderr.String())
		}
	})

	issuer, err := readIssuer(stdout, exited)
	if err != nil {
		t.Fatalf("oidcpeer: %v\nstderr:\n%s", err, stderr.String())
	}
	p := &Peer{t: t, issuer: issuer, token: token, http: &http.Client{Timeout: 10 * time.Second}}
	if err := p.waitForDiscovery(exited); err != nil {
		t.Fatalf("oidcpeer: %v\nstderr:\n%s", err, stderr.String())
	}
	return p
}

// Issuer is the provider's issuer URL, http://127.0.0.1:PORT.
func (p *Peer) Issuer() string { return p.issuer }

// serverDir finds server.mjs: EnvDir, or the node folder beside this
// source file.
func serverDir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return d, nil
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("oidcpeer: cannot locate the package source; set " + EnvDir)
	}
	return filepath.Join(filepath.Dir(file), "node"), nil
}

// unavailable skips t, or fails it where the provider is mandatory.
func unavailable(t testing.TB, why string) {
	t.Helper()
	msg := fmt.Sprintf("oidcpeer: %s; install the test OpenID provider with `npm ci --prefix web/oidcrp/oidcpeer/node` (needs Node.js 18.20 or later)", why)
	if os.Getenv(EnvRequire) == "1" || os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("oidcpeer: read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// readIssuer reads the {"issuer":...} line server.mjs prints once it
// listens.
func readIssuer(stdout io.Reader, exited <-chan struct{}) (string, error) {
	type result struct {
		issuer string
		err    error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			ch <- result{err: fmt.Errorf("read the issuer line: %w", err)}
			return
		}
		var v struct {
			Issuer string `json:"issuer"`
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil || !strings.HasPrefix(v.Issuer, "http://127.0.0.1:") {
			ch <- result{err: fmt.Errorf("unexpected first line %q", line)}
			return
		}
		ch <- result{issuer: v.Issuer}
		// Keep draining, so a later write never blocks the server.
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case r := <-ch:
		return r.issuer, r.err
	case <-exited:
		return "", errors.New("node exited before listening")
	case <-time.After(startTimeout):
		return "", fmt.Errorf("no issuer line within %s", startTimeout)
	}
}

func (p *Peer) waitForDiscovery(exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	url := p.issuer + "/.well-known/openid-configuration"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := p.http.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("node exited before discovery answered")
		case <-ctx.Done():
			return fmt.Errorf("discovery at %s did not answer within %s (last error: %v)", url, startTimeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
