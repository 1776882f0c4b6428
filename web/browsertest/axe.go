package browsertest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// axeDir holds the axe-core npm package (package.json beside this file);
// `npm ci --prefix web/browsertest/axe` installs it.
func axeDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "axe")
}

// axeSource reads axe.min.js, skipping the test (or failing it when
// EnvRequire is "1") when it is not installed.
func axeSource(t testing.TB) string {
	t.Helper()
	path := filepath.Join(axeDir(), "node_modules", "axe-core", "axe.min.js")
	b, err := os.ReadFile(path)
	if err != nil {
		msg := "axe-core not installed: run npm ci --prefix web/browsertest/axe (" + err.Error() + ")"
		if os.Getenv(EnvRequire) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return string(b)
}

// AxeViolation is one axe-core rule a page breaks, with the elements that
// break it.
type AxeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// Axe runs axe-core on the current page (WCAG 2.0/2.1 A and AA rules and
// best practices) and fails the test for every violation, naming the rule
// and the elements. It returns the violations for a caller that reports
// more. The script is injected through the DevTools protocol, which the
// page's Content-Security-Policy does not govern: the portal itself still
// ships no inline script.
func Axe(t testing.TB, ctx context.Context, page string) []AxeViolation {
	t.Helper()
	src := axeSource(t)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	const run = `(async () => {
		const r = await axe.run(document, {resultTypes: ["violations"],
			runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}});
		return JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact || "", help: v.help,
			nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)})));
	})()`
	var raw string
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](src+";true"))
	if err == nil {
		raw, err = chromedp.Run(ctx, chromedp.Evaluate[string](run, chromedp.EvalAwaitPromise))
	}
	return axeReport(t, page, raw, err)
}

// axeReport turns axe's JSON answer into test failures.
func axeReport(t testing.TB, page, raw string, err error) []AxeViolation {
	t.Helper()
	if err != nil {
		t.Errorf("axe on %s: %v", page, err)
		return nil
	}
	var vs []AxeViolation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		t.Errorf("axe on %s: %v", page, err)
		return nil
	}
	for _, v := range vs {
		t.Errorf("axe on %s: %s (%s): %s — %s", page, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "; "))
	}
	if len(vs) == 0 {
		t.Logf("axe on %s: 0 violations", page)
	}
	return vs
}
