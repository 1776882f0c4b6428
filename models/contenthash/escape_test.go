package contenthash

import (
	"testing"
	"unicode/utf16"
)

func TestUnicodeEscape(t *testing.T) {
	for in, want := range map[string]struct {
		r  rune
		n  int
		ok bool
	}{
		`\u00e9x`:      {'é', 6, true},
		`\uD83D\uDE00`: {0x1F600, 12, true}, // a pair
		`\ud800`:       {0xd800, 6, true},   // high alone
		`\ud800\u0041`: {0xd800, 6, true},   // high, then not a low one
		`\udc00`:       {0xdc00, 6, true},   // low alone
		`\uFFFD`:       {0xfffd, 6, true},   // the replacement character itself: not a surrogate
		`\u12`:         {0, 0, false},
		`\n`:           {0, 0, false},
		`\u12g4`:       {0, 0, false},
	} {
		r, n, ok := UnicodeEscape([]byte(in))
		if r != want.r || n != want.n || ok != want.ok {
			t.Errorf("UnicodeEscape(%s) = %U %d %v, want %U %d %v", in, r, n, ok, want.r, want.n, want.ok)
		}
		if ok && utf16.IsSurrogate(r) != (in == `\ud800` || in == `\ud800\u0041` || in == `\udc00`) {
			t.Errorf("%s: surrogate %v", in, utf16.IsSurrogate(r))
		}
	}
}
