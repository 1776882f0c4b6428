package handlers

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/countersign/countersign/models/contenthash"
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
			r, n, ok := contenthash.UnicodeEscape(raw[i:])
			if !ok {
				i++ // an escape other than \u: skip its character
				continue
			}
			if utf16.IsSurrogate(r) {
				return true
			}
			i += n - 1
		}
	}
	return false
}
