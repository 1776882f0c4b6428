package demoidp_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxingqr "github.com/makiuchi-d/gozxing/qrcode"
)

// decodeQR reads a QR code from img with ZXing's decoder (a separate
// implementation from the encoder, so a test proves what a phone reads).
func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxingqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatalf("the QR code does not decode: %v", err)
	}
	return res.GetText()
}

// TestTerminalQRDecodesToTheOTPAuthURL: the half-block drawing that
// `countersign demo` prints, read back module by module (a blank cell
// half is a dark module), decodes to the user's otpauth URL.
func TestTerminalQRDecodesToTheOTPAuthURL(t *testing.T) {
	u := generateUsers(t)[0]
	want, err := u.OTPAuthURI()
	if err != nil {
		t.Fatal(err)
	}
	drawing, err := u.OTPAuthQR()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(drawing, "\n"), "\n")
	width := len([]rune(lines[0]))
	const scale = 4
	img := image.NewGray(image.Rect(0, 0, (width+8)*scale, (2*len(lines)+8)*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for row, line := range lines {
		runes := []rune(line)
		if len(runes) != width {
			t.Fatalf("line %d is %d wide, line 0 %d", row, len(runes), width)
		}
		for col, r := range runes {
			top := r == '█' || r == '▀'
			bottom := r == '█' || r == '▄'
			if !top && !bottom && r != ' ' {
				t.Fatalf("unexpected rune %q", r)
			}
			for half, light := range []bool{top, bottom} {
				// The drawing is square: a lower half past the last
				// module row (odd row count) is not part of the code.
				if light || 2*row+half >= width {
					continue
				}
				for dy := range scale {
					for dx := range scale {
						img.SetGray((col+4)*scale+dx, (2*row+half+4)*scale+dy, color.Gray{})
					}
				}
			}
		}
	}
	if got := decodeQR(t, img); got != want {
		t.Errorf("terminal QR decodes to %q, want %q", got, want)
	}
}

// TestOTPStepShowsTheQRCodeToThatBrowserOnly: after the password, the
// second-factor page shows an <img> of a PNG the provider serves (no data:
// URI, which the CSP would block) that decodes to the person's otpauth
// URL; no other browser, and no browser before the password step, gets it.
func TestOTPStepShowsTheQRCodeToThatBrowserOnly(t *testing.T) {
	t.Parallel()
	e, b, page := startLogin(t)
	f, _ := page.Form("password-form")
	authID := f.Fields.Get("authRequestID")
	qrURL := e.issuer + "/login/otp/qr.png?authRequestID=" + authID

	get := func(c *http.Client) (int, []byte, http.Header) {
		t.Helper()
		resp, err := c.Get(qrURL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.Bytes(), resp.Header
	}
	if code, _, _ := get(b.Client()); code != http.StatusNotFound {
		t.Errorf("QR before the password step: HTTP %d, want 404", code)
	}

	page = b.MustSubmit(t, f, e.login("alice"), "")
	m := regexp.MustCompile(`<img src="([^"]+)"[^>]*data-testid="totp-qr"`).FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("the TOTP step shows no QR image:\n%s", page.Body)
	}
	if src := strings.ReplaceAll(m[1], "&amp;", "&"); !strings.HasSuffix(qrURL, src) {
		t.Errorf("img src %q, want %q", src, qrURL)
	}
	code, body, h := get(b.Client())
	if code != http.StatusOK || h.Get("Content-Type") != "image/png" || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("QR: HTTP %d, %s, cache %q", code, h.Get("Content-Type"), h.Get("Cache-Control"))
	}
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := e.users["alice"].OTPAuthURI()
	if got := decodeQR(t, img); got != want {
		t.Errorf("the QR decodes to %q, want alice's %q", got, want)
	}

	other := e.browser(t)
	if code, _, _ := get(other.Client()); code != http.StatusNotFound {
		t.Errorf("QR from another browser: HTTP %d, want 404", code)
	}
}
