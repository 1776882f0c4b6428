package contenthash

import "unicode/utf16"

// UnicodeEscape reads the JSON escape \uXXXX at the start of b and, when
// it is a high surrogate followed by the escape of a low one, that one
// too. It returns the rune and the bytes read; a surrogate without its
// pair is returned as itself (utf16.IsSurrogate says so), for the caller
// to refuse or replace. ok is false when b does not start with such an
// escape. The audit event parser and the agent API's input check share it.
func UnicodeEscape(b []byte) (r rune, n int, ok bool) {
	r, ok = hex4(b)
	if !ok {
		return 0, 0, false
	}
	if r >= 0xd800 && r <= 0xdbff {
		if low, ok := hex4(b[6:]); ok && low >= 0xdc00 && low <= 0xdfff {
			return utf16.DecodeRune(r, low), 12, true
		}
	}
	return r, 6, true
}

// hex4 reads "\uXXXX" at b[0].
func hex4(b []byte) (rune, bool) {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range b[2:6] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
