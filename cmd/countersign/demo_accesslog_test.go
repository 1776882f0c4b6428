package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/web/demoidp"
)

// TestDemoKeepsCredentialsInView: by default the demo writes one line per
// HTTP request to DATA/access.log and says so in its banner, so the
// printed credentials stay in view; --log-requests puts them back on the
// terminal. The banner draws each user's TOTP QR code before the
// summary (web/demoidp's tests decode the drawing).
func TestDemoKeepsCredentialsInView(t *testing.T) {
	data := filepath.Join(t.TempDir(), "demo")
	base, stdout, stderr, stop := startServerLogs(t, nil, "demo", "--data", data, "--addr", "127.0.0.1:0")
	waitForBanner(t, stdout)
	for range 3 {
		if code, _ := get(t, base+"/healthz"); code != 200 {
			t.Fatalf("/healthz: %d", code)
		}
	}
	get(t, base+"/login")
	if code := stop(); code != 0 {
		t.Fatalf("demo exit %d", code)
	}
	checkBannerQRCodes(t, stdout.String())
	path := filepath.Join(data, demoAccessLogFile)
	if !strings.Contains(stdout.String(), "requests: logged to "+path) {
		t.Errorf("the banner does not say where the request log goes:\n%s", stdout.String())
	}
	if strings.Contains(stderr.String(), `"http request"`) {
		t.Errorf("request lines reached the terminal:\n%s", stderr.String())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), `"msg":"http request"`); n < 4 {
		t.Errorf("%s has %d request lines, want at least 4:\n%s", path, n, b)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}

	// --log-requests: the terminal again, no mention of a file.
	base, stdout, stderr, stop = startServerLogs(t, nil, "demo", "--data", data, "--addr", "127.0.0.1:0", "--log-requests")
	waitForBanner(t, stdout)
	get(t, base+"/healthz")
	if code := stop(); code != 0 {
		t.Fatalf("demo exit %d", code)
	}
	if !strings.Contains(stderr.String(), `"http request"`) {
		t.Errorf("--log-requests: no request line on the terminal:\n%s", stderr.String())
	}
	if strings.Contains(stdout.String(), "requests: logged to") {
		t.Errorf("--log-requests: the banner still names a file")
	}
}

// waitForBanner waits for the demo's start-up text to be complete.
func waitForBanner(t *testing.T, stdout interface{ String() string }) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stdout.String(), "Press Ctrl-C") {
		if time.Now().After(deadline) {
			t.Fatalf("no complete banner:\n%s", stdout.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkBannerQRCodes checks that the banner draws, for every printed
// user, the QR code of the otpauth URL of the secret it prints, and that
// the summary with the passwords comes after all of them.
func checkBannerQRCodes(t *testing.T, banner string) {
	t.Helper()
	users := userLine.FindAllStringSubmatch(banner, -1)
	if len(users) != 4 {
		t.Fatalf("%d users in the banner, want 4:\n%s", len(users), banner)
	}
	for _, m := range users {
		u := demoidp.User{Username: m[1], TOTPSecret: m[4]}
		qr, err := u.OTPAuthQR()
		if err != nil {
			t.Fatal(err)
		}
		at := strings.Index(banner, "  "+u.Username+"\n"+qr)
		if at < 0 {
			t.Errorf("the banner lacks %s's QR code", u.Username)
		} else if at > strings.Index(banner, m[0]) {
			t.Errorf("%s's QR code comes after the user lines", u.Username)
		}
	}
}
