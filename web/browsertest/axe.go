package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// EnvAxe names axe.min.js when it is not at its usual place
// (web/browsertest/axe/node_modules/axe-core/axe.min.js, installed by
// `npm ci --prefix web/browsertest/axe`, which .ci/run does).
const EnvAxe = "COUNTERSIGN_TEST_AXE"

// axeScript is axe-core's source, read once per test binary.
var axeScript = sync.OnceValues(func() (string, error) {
	path := os.Getenv(EnvAxe)
	if path == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", err
		}
		path = filepath.Join(root, "web", "browsertest", "axe", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("axe-core not found (%v): run `npm ci --prefix web/browsertest/axe` or set %s", err, EnvAxe)
	}
	return string(b), nil
})

// moduleRoot is the directory of go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Violation is one accessibility rule a page breaks, as axe-core reports
// it.
type Violation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
}

// axeRun runs axe-core on the page (WCAG 2.x A and AA rules and axe's best
// practices) and returns its violations as JSON.
const axeRun = `axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations.map(v => ({
  id: v.id, impact: v.impact || "", help: v.help, targets: v.nodes.map(n => n.target.join(" "))
}))))`

// Axe checks the page the browser shows now with axe-core and fails t on
// every violation, naming the rule and the elements. Without axe-core it
// skips, or fails when EnvRequire is "1" (CI installs it). The script is
// injected through the DevTools protocol, not the page, so the portal's
// Content-Security-Policy stays as strict as it is.
func Axe(t testing.TB, ctx context.Context, name string) []Violation {
	t.Helper()
	src, err := axeScript()
	if err != nil {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("axe %s: %v", name, err)
		}
		t.Skipf("skipping accessibility check: %v", err)
	}
	vs, err := axeCheck(ctx, src)
	if err != nil {
		t.Errorf("axe %s: %v", name, err)
		return nil
	}
	for _, v := range vs {
		t.Errorf("axe %s: %s (%s): %s — %s", name, v.ID, v.Impact, v.Help, strings.Join(v.Targets, ", "))
	}
	return vs
}

// axeCheck injects axe-core's source src into the page and runs it.
func axeCheck(ctx context.Context, src string) ([]Violation, error) {
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](src+";true")); err != nil {
		return nil, fmt.Errorf("inject axe-core: %w", err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, err
	}
	var vs []Violation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		return nil, fmt.Errorf("read axe's answer: %w", err)
	}
	return vs, nil
}
