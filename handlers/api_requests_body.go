package handlers

import "unicode/utf8"

// msgBodyNotUTF8 is the agent API's answer to a body that is not text.
const msgBodyNotUTF8 = `the body must be valid UTF-8: no invalid bytes and no \u escapes of lone UTF-16 surrogates (such as \ud800)`

// bodyTextProblem says why an agent API body is not text, or "" when it is.
// encoding/json turns invalid UTF-8, and \u escapes of lone surrogates,
// into U+FFFD without a word, so a request would store a replacement
// character the agent never sent; the slash command and the portal refuse
// such text, and so does the API, before decoding anything.
func bodyTextProblem(raw []byte) string {
	if !utf8.Valid(raw) || hasLoneSurrogate(raw) {
		return msgBodyNotUTF8
	}
	return ""
}

// hasLoneSurrogate reports whether a JSON string in raw holds a \u escape
// of a UTF-16 surrogate that is not half of a pair (a high one followed at
// once by an escaped low one). raw need not be valid JSON: what is not is
// refused later by the decoder anyway.
func hasLoneSurrogate(raw []byte) bool {
	inString := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case !inString:
			inString = c == '"'
		case c == '"':
			inString = false
		case c == '\\' && i+1 < len(raw):
			r, ok := hex4(raw[i+1:])
			if !ok {
				i++ // an escape other than \u: skip its character
				continue
			}
			switch {
			case r >= 0xdc00 && r <= 0xdfff:
				return true
			case r >= 0xd800 && r <= 0xdbff:
				next := raw[min(i+6, len(raw)):]
				if len(next) < 6 || next[0] != '\\' {
					return true
				}
				if r2, ok := hex4(next[1:]); !ok || r2 < 0xdc00 || r2 > 0xdfff {
					return true
				}
				i += 6
			}
			i += 5
		}
	}
	return false
}

// hex4 reads "uXXXX" at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 5 || b[0] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range b[1:5] {
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
