package demoidp

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"

	"github.com/boombuler/barcode/qr"
)

// qrQuietZone is the light border around a QR code, in modules: the
// 4 the standard asks for, which phone cameras need to find the code
// against a busy background.
const qrQuietZone = 4

// qrCode is the module grid of one QR code.
type qrCode struct {
	size int
	dark func(x, y int) bool
}

// encodeQR encodes text at error-correction level M, what authenticator
// apps expect of an otpauth URL.
func encodeQR(text string) (qrCode, error) {
	b, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		return qrCode{}, fmt.Errorf("demoidp: qr code: %w", err)
	}
	n := b.Bounds().Dx()
	return qrCode{size: n, dark: func(x, y int) bool {
		if x < 0 || y < 0 || x >= n || y >= n {
			return false
		}
		return b.At(x, y) == color.Black
	}}, nil
}

// png draws the code scale pixels per module, black on white, with its
// quiet zone.
func (q qrCode) png(scale int) ([]byte, error) {
	side := (q.size + 2*qrQuietZone) * scale
	img := image.NewGray(image.Rect(0, 0, side, side))
	for y := range side {
		for x := range side {
			v := uint8(0xff)
			if q.dark(x/scale-qrQuietZone, y/scale-qrQuietZone) {
				v = 0
			}
			img.Pix[y*img.Stride+x] = v
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("demoidp: qr png: %w", err)
	}
	return buf.Bytes(), nil
}

// halfBlocks draws the code for a terminal, two module rows per line
// with Unicode half blocks. Like `qrencode -t UTF8` it draws the light
// modules and the quiet zone (of quiet modules) in the foreground colour
// and leaves the dark ones blank, which reads right on the usual
// light-on-dark terminal; phone cameras also read it inverted.
func (q qrCode) halfBlocks(quiet int) string {
	light := func(x, y int) bool { return !q.dark(x, y) }
	var b strings.Builder
	for y := -quiet; y < q.size+quiet; y += 2 {
		for x := -quiet; x < q.size+quiet; x++ {
			top, bottom := light(x, y), y+1 < q.size+quiet && light(x, y+1)
			switch {
			case top && bottom:
				b.WriteRune('█')
			case top:
				b.WriteRune('▀')
			case bottom:
				b.WriteRune('▄')
			default:
				b.WriteRune(' ')
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// OTPAuthQR returns the user's otpauth URL (see OTPAuthURI) drawn as a
// QR code for a terminal, so `countersign demo` can print one to scan
// with an authenticator app.
func (u User) OTPAuthQR() (string, error) {
	uri, err := u.OTPAuthURI()
	if err != nil {
		return "", err
	}
	q, err := encodeQR(uri)
	if err != nil {
		return "", err
	}
	return q.halfBlocks(2), nil
}
