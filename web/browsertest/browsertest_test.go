package browsertest

import (
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserHelperRecordsConsoleErrors checks the helper itself against a
// tiny server: a clean page records nothing, a blocked inline script is
// recorded as a CSP violation, a thrown error as an exception, and a
// screenshot is a real PNG in the artifact directory.
func TestBrowserHelperRecordsConsoleErrors(t *testing.T) {
	mux := http.NewServeMux()
	const csp = "default-src 'none'; script-src 'self'; style-src 'self'"
	mux.HandleFunc("/clean", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>clean</title><main><h1 data-testid="h">Clean</h1></main></html>`)
	})
	mux.HandleFunc("/inline", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>inline</title><main><h1 data-testid="h">Inline</h1></main><script>document.title = "ran"</script></html>`)
	})
	mux.HandleFunc("/throws.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, `throw new Error("boom from test");`)
	})
	mux.HandleFunc("/throws", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>throws</title><main><h1 data-testid="h">Throws</h1></main><script src="/throws.js"></script></html>`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx := New(t)
	visit := func(path string) []string {
		t.Helper()
		if err := chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+path),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="h"]`)),
		); err != nil {
			t.Fatalf("visit %s: %v", path, err)
		}
		// Log entries can trail the load event by a moment; one round
		// trip through the page flushes them.
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`true`)); err != nil {
			t.Fatal(err)
		}
		errs := ConsoleErrors(t, ctx)
		t.Logf("%s recorded %q", path, errs)
		return errs
	}

	if errs := visit("/clean"); len(errs) != 0 {
		t.Errorf("clean page recorded %q", errs)
	}
	if errs := visit("/inline"); !containsAny(errs, "Content Security Policy") {
		t.Errorf("inline script under CSP recorded %q; want a CSP violation", errs)
	}
	if errs := visit("/throws"); !containsAny(errs, "boom from test") {
		t.Errorf("throwing script recorded %q; want the exception", errs)
	}
	AssertNoConsoleErrors(t, ctx)

	path := Screenshot(t, ctx, "helper self-test")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if w := img.Bounds().Dx(); w != LaptopWidth {
		t.Errorf("screenshot width %d, want %d", w, LaptopWidth)
	}
}

func containsAny(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestBrowserChromiumRequiredFails checks that a missing browser is a
// failure, not a skip, when the environment asks for browsers.
func TestBrowserChromiumRequiredFails(t *testing.T) {
	t.Setenv(EnvChromium, "/nonexistent/chromium")
	ft := &fakeTB{TB: t}
	func() {
		defer func() { _ = recover() }()
		Chromium(ft)
	}()
	if !ft.fatal || !strings.Contains(ft.msg, EnvChromium) {
		t.Fatalf("bad %s: fatal=%v msg=%q", EnvChromium, ft.fatal, ft.msg)
	}
}

// fakeTB records Fatalf and Skipf instead of ending the real test.
type fakeTB struct {
	testing.TB
	fatal, skipped bool
	msg            string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal, f.msg = true, fmt.Sprintf(format, args...)
	panic("fatal")
}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped, f.msg = true, fmt.Sprintf(format, args...)
	panic("skip")
}

// TestAxeFindsViolations checks the accessibility helper itself: a page
// with an image without text and an unlabelled input breaks the rules
// axe-core names; a clean page breaks none.
func TestAxeFindsViolations(t *testing.T) {
	src, err := axeScript()
	if err != nil {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/bad", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>bad</title><main><h1 data-testid="h">Bad</h1><img src="/x.png"><input type="text"></main></html>`)
	})
	mux.HandleFunc("/x.png", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_ = png.Encode(w, image.NewGray(image.Rect(0, 0, 2, 2)))
	})
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/good", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>good</title><main><h1 data-testid="h">Good</h1><img src="/x.png" alt="A chart"><label>Name <input type="text"></label></main></html>`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := New(t)
	ids := func(path string) []string {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+path), chromedp.WaitVisible(chromedp.CSS(`[data-testid="h"]`))); err != nil {
			t.Fatal(err)
		}
		vs, err := axeCheck(ctx, src)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, v := range vs {
			out = append(out, v.ID)
		}
		return out
	}
	bad := strings.Join(ids("/bad"), " ")
	if !strings.Contains(bad, "image-alt") || !strings.Contains(bad, "label") {
		t.Errorf("violations of the bad page: %q, want image-alt and label", bad)
	}
	if good := ids("/good"); len(good) != 0 {
		t.Errorf("violations of the good page: %q", good)
	}
}
