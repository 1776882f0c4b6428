package handlers

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
)

// msgBodyNotUTF8 is the agent API's answer to a body that is not text.
const msgBodyNotUTF8 = `the body must be valid UTF-8: no invalid bytes and no \u escapes of lone UTF-16 surrogates (such as \ud800)`

// bodyProblem says why an agent API body is refused before it is decoded,
// or "" when it is not.
//
// The body must be text: encoding/json turns invalid UTF-8, and \u escapes
// of lone surrogates, into U+FFFD without a word, so a request would store
// a replacement character the agent never sent; the slash command and the
// portal refuse such text.
//
// Its objects must name their fields exactly as documented: encoding/json
// matches names regardless of case and keeps the last of two, while the
// body's fingerprint (its canonical form, for Idempotency-Key) sorts keys
// by their bytes. {"action":"a","ACTION":"b"} would be action b with the
// fingerprint of {"ACTION":"b","action":"a"}, which is action a: one
// fingerprint, two requests.
func bodyProblem(raw []byte) string {
	if !utf8.Valid(raw) || hasLoneSurrogate(raw) {
		return msgBodyNotUTF8
	}
	if name := undocumentedField(raw); name != "" {
		return fmt.Sprintf("the body must be one JSON object with the documented fields: %q is not one (names are case-sensitive)", name)
	}
	return ""
}

// The field names of the body's objects, as documented (their json tags).
var (
	proposalFields = jsonFieldNames(reflect.TypeFor[proposalForm]())
	toolCallFields = jsonFieldNames(reflect.TypeFor[toolCallForm]())
)

func jsonFieldNames(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}

// undocumentedField returns the first name in the body's object, or in one
// of its tool calls, that is not a documented field spelt exactly; "" when
// there is none or the body is not an object (the decoder says so).
func undocumentedField(raw []byte) string {
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return ""
	}
	if name := notIn(top, proposalFields); name != "" {
		return name
	}
	var calls []map[string]json.RawMessage
	if json.Unmarshal(top["tool_calls"], &calls) != nil {
		return ""
	}
	for _, call := range calls {
		if name := notIn(call, toolCallFields); name != "" {
			return name
		}
	}
	return ""
}

// notIn returns the first key of obj, in sorted order, not in names.
func notIn(obj map[string]json.RawMessage, names []string) string {
	var bad []string
	for k := range obj {
		if !slices.Contains(names, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return ""
	}
	return slices.Min(bad)
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
