// Package browsertest runs headless Chromium for the portal's browser tests:
// it finds the browser, starts it with flags that work as root in a
// container and on CI, records what the pages write to the console (script
// errors, Content-Security-Policy violations, failed loads) so a test can
// fail on them, and saves screenshots into the test's artifact directory.
//
// It is a helper for _test.go files only; nothing in the server imports it.
package browsertest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Environment variables that steer the helpers.
const (
	// EnvChromium names the browser binary to use instead of searching.
	EnvChromium = "COUNTERSIGN_TEST_CHROMIUM"
	// EnvRequire set to "1" turns a missing browser into a test failure
	// instead of a skip; CI sets it so the browser tests cannot silently
	// stop running.
	EnvRequire = "COUNTERSIGN_TEST_REQUIRE_BROWSER"
)

// Timeout bounds one browser's whole life. Waits inside a test should be
// shorter; this is the backstop that kills a hung browser.
const Timeout = 2 * time.Minute

// Laptop and phone widths the portal is checked at.
const (
	LaptopWidth, LaptopHeight = 1280, 900
	PhoneWidth, PhoneHeight   = 390, 844
)

// candidates are searched in PATH, in order, after /usr/bin/chromium.
var candidates = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Chromium returns the path of the browser to run. Without one it skips
// the test, or fails it when EnvRequire is "1".
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(EnvChromium); p != "" {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
		t.Fatalf("%s=%q does not name an executable browser", EnvChromium, p)
	}
	if fi, err := os.Stat("/usr/bin/chromium"); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
		return "/usr/bin/chromium"
	}
	for _, name := range candidates {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("browser test required (%s=1) but no Chromium found: install Debian's chromium or set %s", EnvRequire, EnvChromium)
	}
	t.Skipf("skipping browser test: no Chromium found (install Debian's chromium or set %s)", EnvChromium)
	return ""
}

// recorderKey finds a browser's console recorder in its context.
type recorderKey struct{}

// recorder keeps the console messages that count as errors, and the
// browser's own output for failure reports.
type recorder struct {
	mu     sync.Mutex
	errors []string
	output bytes.Buffer
}

func (r *recorder) add(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, msg)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.errors
	r.errors = nil
	return out
}

// Write collects the browser process's stdout and stderr.
func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.output.Len() < 64<<10 {
		r.output.Write(p)
	}
	return len(p), nil
}

// processOutput is the browser's output without the D-Bus complaints a
// headless browser in a container always makes.
func (r *recorder) processOutput() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var keep []string
	for _, line := range strings.Split(r.output.String(), "\n") {
		if strings.Contains(line, "dbus") || strings.TrimSpace(line) == "" {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

// listen turns protocol events into recorded errors. It runs on chromedp's
// reading goroutine, so it only formats and appends.
func (r *recorder) listen(ev any) {
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + strings.SplitN(d.Exception.Description, "\n", 2)[0]
		}
		r.add(fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber, text))
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range e.Args {
				if len(a.Value) > 0 {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			r.add(fmt.Sprintf("console.%s: %s", e.Type, strings.Join(parts, " ")))
		}
	case *log.EventEntryAdded:
		en := e.Entry
		if en == nil {
			return
		}
		if en.Level == log.EntryLevelError || isCSP(en.Text) {
			r.add(fmt.Sprintf("%s %s: %s (%s)", en.Source, en.Level, en.Text, en.URL))
		}
	}
}

// isCSP reports whether a log text is a Content-Security-Policy violation,
// also a report-only one, which Chromium may log below the error level.
func isCSP(text string) bool {
	return strings.Contains(text, "Content Security Policy") || strings.Contains(text, "Content-Security-Policy")
}

// New starts a fresh headless browser, with its own profile, for one test
// and returns its context: each call is a separate person whose cookies
// and sessions are not shared with any other. The browser is stopped when
// the test ends; console errors nobody checked then fail the test, and when
// the test failed a screenshot of the last page is saved first. Every
// action on the context must end within Timeout.
func New(t testing.TB) context.Context {
	t.Helper()
	exe := Chromium(t)
	rec := &recorder{}
	profile := filepath.Join(t.TempDir(), "profile")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // tests and CI run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,AutofillServerCommunication"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(LaptopWidth, LaptopHeight),
		chromedp.CombinedOutput(rec),
	}
	timeout := Timeout
	if d, ok := deadline(t); ok {
		// Leave the test binary time to report instead of being killed.
		if left := time.Until(d) - 10*time.Second; left < timeout {
			timeout = left
		}
	}
	base, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(base, opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx,
		chromedp.WithListener(rec.listen),
		chromedp.WithLogf(func(string, ...any) {}),
		chromedp.WithErrorf(func(f string, a ...any) { t.Logf("chromedp: "+f, a...) }),
	)
	ctx = context.WithValue(ctx, recorderKey{}, rec)
	t.Cleanup(func() {
		// Errors the test did not check for yet still fail it.
		if ctx.Err() == nil {
			_, _ = chromedp.Run(ctx, chromedp.Evaluate[bool](`true`))
		}
		for _, e := range rec.take() {
			t.Errorf("browser console error (unchecked at the end of the test): %s", e)
		}
		if t.Failed() && ctx.Err() == nil {
			if u, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
				t.Logf("browser was at %s", u)
			}
			shot(t, ctx, "failure") // a failing page is not checked for accessibility too
			if out := strings.TrimSpace(rec.processOutput()); out != "" {
				t.Logf("browser output:\n%s", out)
			}
		}
		cancelCtx()
		cancelAlloc()
		cancelTimeout()
	})
	// Start the browser now, so a browser that cannot start fails here
	// with its own output rather than in the first action of the test.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v\n%s", exe, err, rec.processOutput())
	}
	return ctx
}

// deadline reads the test's deadline when the TB has one (T, B and F do).
func deadline(t testing.TB) (time.Time, bool) {
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		return d.Deadline()
	}
	return time.Time{}, false
}

func recorderOf(t testing.TB, ctx context.Context) *recorder {
	t.Helper()
	rec, ok := ctx.Value(recorderKey{}).(*recorder)
	if !ok {
		t.Fatalf("browsertest: context was not made by browsertest.New")
	}
	return rec
}

// ConsoleErrors returns, and forgets, the errors recorded since the last
// call: uncaught exceptions, console.error calls, and browser log entries
// at error level, which include CSP violations and failed loads.
func ConsoleErrors(t testing.TB, ctx context.Context) []string {
	t.Helper()
	return recorderOf(t, ctx).take()
}

// AssertNoConsoleErrors fails the test (without stopping it) for every
// console error recorded since the last check. Check after each page: the
// report then names the step that caused it.
func AssertNoConsoleErrors(t testing.TB, ctx context.Context) {
	t.Helper()
	for _, e := range ConsoleErrors(t, ctx) {
		t.Errorf("browser console error: %s", e)
	}
}

// unsafeName matches characters kept out of screenshot file names.
var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Screenshot saves a full-page PNG of the current page as
// <ArtifactDir>/<name>.png and logs where. `go test -artifacts` keeps the
// directory (under -outputdir); without it the file is removed with the
// test's temporary files. A failure to capture is reported, not fatal.
// The page is then checked with axe-core (Axe): every page a test
// screenshots must have no accessibility violations.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	path := shot(t, ctx, name)
	// Every page a test looks at is also checked for accessibility.
	Axe(t, ctx, name)
	return path
}

// fullScreenshot captures the whole page once it has loaded and been laid
// out. A page a script has just navigated to can be found with its
// elements in place but no layout yet, and Chromium then refuses the
// capture ("Cannot take screenshot with 0 width"): the capture waits for
// a laid-out document and tries again a few times before giving up.
func fullScreenshot(ctx context.Context) ([]byte, error) {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
		for i := 0; i < 50; i++ {
			ready, rerr := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.readyState === "complete" && document.documentElement.getBoundingClientRect().width > 0`))
			if rerr == nil && ready {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		var png []byte
		if png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			return png, nil
		}
	}
	return nil, err
}

// shot saves the screenshot without the accessibility check.
func shot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	png, err := fullScreenshot(ctx)
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	path := filepath.Join(t.ArtifactDir(), unsafeName.ReplaceAllString(name, "_")+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	t.Logf("screenshot %s: %s", name, path)
	return path
}
