package audit

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/contenthash"
)

// Event is an audit event as exported in receipts and bundles: every hashed
// field, and the hash. Anyone can recompute Hash from the other fields (see
// Hasher), so an exported event cannot be edited unnoticed.
//
// Its JSON form is a flat object with the database column names as keys and
// Payload as a string holding the exact stored bytes (not as nested JSON,
// which tools would reformat and so break the hash). Text that is not valid
// UTF-8, which JSON cannot carry, is written base64 under the key with a
// "_b64" suffix. Duplicate and unknown keys are refused when reading, so no
// two readers of one file can see different events.
//
// It has the fields of models.AuditEvent, the audit_events columns.
type Event models.AuditEvent

// EventOf returns the exported form of a stored event.
func EventOf(ev *models.AuditEvent) Event { return Event(*ev) }

// Fields returns the hashed fields of e.
func (e *Event) Fields() *Fields { return FieldsOf((*models.AuditEvent)(e)) }

// MarshalJSON writes the event's JSON form.
func (e Event) MarshalJSON() ([]byte, error) {
	return AppendEventJSON(nil, e.Fields(), []byte(e.Hash), false), nil
}

// UnmarshalJSON reads the event's JSON form strictly.
func (e *Event) UnmarshalJSON(b []byte) error {
	var p EventParser
	if err := p.Parse(b); err != nil {
		return err
	}
	if p.kindSeen {
		return errors.New("audit event: unexpected key \"kind\"")
	}
	f := &p.f
	*e = Event{Seq: f.Seq, AtUnixUS: f.AtUnixUS, Type: string(f.Type), ActorType: models.ActorType(f.ActorType), ActorID: string(f.ActorID),
		ActorDisplay: string(f.ActorDisplay), RequestID: string(f.RequestID), Purpose: string(f.Purpose), Action: string(f.Action),
		PolicyRef: string(f.PolicyRef), Payload: string(f.Payload), PrevHash: string(f.PrevHash), Hash: string(p.hash)}
	return nil
}

// The keys of an event object; bit i of EventParser.seen is key i.
const (
	keySeq = iota
	keyAt
	keyType
	keyActorType
	keyActorID
	keyActorDisplay
	keyRequestID
	keyPurpose
	keyAction
	keyPolicyRef
	keyPayload
	keyPrevHash
	keyHash
	keyKind
	allEventKeys = 1<<keyKind - 1
)

// EventLinePrefix starts every event line a bundle writer produces; the
// verifier uses it to tell event lines from the rest without parsing twice.
const EventLinePrefix = `{"kind":"event",`

// AppendEventJSON appends the JSON object for an event (with "kind":"event"
// first when kind is set, for bundle lines). Keys follow Fields order.
func AppendEventJSON(dst []byte, f *Fields, hash []byte, kind bool) []byte {
	if kind {
		dst = append(dst, EventLinePrefix...)
	} else {
		dst = append(dst, '{')
	}
	dst = append(dst, `"seq":`...)
	dst = strconv.AppendInt(dst, f.Seq, 10)
	dst = append(dst, `,"at_unix_us":`...)
	dst = strconv.AppendInt(dst, f.AtUnixUS, 10)
	for i, field := range f.texts() {
		dst = appendField(dst, eventKeys[keyType+i], *field)
	}
	dst = appendField(dst, "hash", hash)
	return append(dst, '}')
}

// appendField appends ,"name":"value" (or ,"name_b64":"…" for bytes that
// are not UTF-8).
func appendField(dst []byte, name string, v []byte) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	if !utf8.Valid(v) {
		dst = append(dst, `_b64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, v)
		return append(dst, '"')
	}
	dst = append(dst, `":`...)
	return appendJSONString(dst, v)
}

// appendJSONString appends v as a JSON string, escaping only what JSON
// requires (quote, backslash, control characters).
func appendJSONString(dst, v []byte) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, v[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, v[start:]...)
	return append(dst, '"')
}

// EventParser reads one event object without reflection or per-event
// allocation: values without escapes alias the input, the others are
// decoded into scratch, which is sized to the input up front so earlier
// values never move. It serves one goroutine.
type EventParser struct {
	f        Fields
	hash     []byte
	kindSeen bool
	seen     uint32
	scratch  []byte
}

// Fields returns the fields of the event parsed last; they alias the input
// and the parser's scratch, so they are valid until the next Parse.
func (p *EventParser) Fields() *Fields { return &p.f }

// Hash returns the hash text of the event parsed last (valid until the
// next Parse).
func (p *EventParser) Hash() []byte { return p.hash }

// errEventSyntax is wrapped by every parse error.
var errEventSyntax = errors.New("audit event: bad JSON")

func syntaxErr(at int, format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", errEventSyntax, at+1, fmt.Sprintf(format, args...))
}

// parse reads b, which must hold one JSON object with every event key once
// (and optionally "kind":"event"), followed only by white space.
func (p *EventParser) Parse(b []byte) error {
	if cap(p.scratch) < len(b) {
		p.scratch = make([]byte, 0, len(b)+len(b)/4)
	}
	p.scratch = p.scratch[:0]
	p.seen, p.kindSeen = 0, false
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return syntaxErr(i, "expected an object")
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return syntaxErr(i, "empty object")
	}
	// Writers put the keys in one order; expecting it saves decoding and
	// looking up each key, and any other order still parses.
	expect := keyKind
	for {
		if i >= len(b) || b[i] != '"' {
			return syntaxErr(i, "expected a key")
		}
		k, b64 := -1, false
		if ck := canonicalKey(expect); ck != "" && len(b)-i > len(ck) && string(b[i:i+len(ck)]) == ck {
			k, i = expect, i+len(ck)
		} else {
			key, next, err := p.str(b, i+1)
			if err != nil {
				return err
			}
			i = skipSpace(b, next)
			if i >= len(b) || b[i] != ':' {
				return syntaxErr(i, "expected ':'")
			}
			if k, b64 = eventKey(key); k < 0 {
				return syntaxErr(i, "unknown key %q", key)
			}
			i++
		}
		i = skipSpace(b, i)
		var err error
		if i, err = p.value(b, i, k, b64); err != nil {
			return err
		}
		expect = nextKey(k)
		i = skipSpace(b, i)
		if i >= len(b) {
			return syntaxErr(i, "object not closed")
		}
		if b[i] == '}' {
			break
		}
		if b[i] != ',' {
			return syntaxErr(i, "expected ',' or '}'")
		}
		i = skipSpace(b, i+1)
	}
	if i = skipSpace(b, i+1); i != len(b) {
		return syntaxErr(i, "data after the object")
	}
	if p.seen&allEventKeys != allEventKeys {
		for k := 0; k < keyKind; k++ {
			if p.seen&(1<<k) == 0 {
				return fmt.Errorf("audit event: missing key %q", keyName(k))
			}
		}
	}
	return nil
}

// eventKeys are the JSON keys of an event object, indexed by the key
// constants above.
var eventKeys = [...]string{"seq", "at_unix_us", "type", "actor_type", "actor_id", "actor_display", "request_id", "purpose", "action", "policy_ref", "payload", "prev_hash", "hash", "kind"}

// canonicalKeys are the keys as writers emit them, `"<key>":`, computed
// once from eventKeys.
var canonicalKeys = func() (out [len(eventKeys)]string) {
	for k, name := range eventKeys {
		out[k] = `"` + name + `":`
	}
	return out
}()

// keyName returns the JSON key with index k.
func keyName(k int) string { return eventKeys[k] }

// canonicalKey returns `"<key>":` for key index k as writers emit it, or ""
// for none (k < 0).
func canonicalKey(k int) string {
	if k < 0 {
		return ""
	}
	return canonicalKeys[k]
}

// nextKey is the key writers put after key k (-1 after the last).
func nextKey(k int) int {
	switch {
	case k == keyKind:
		return keySeq
	case k < keyHash:
		return k + 1
	}
	return -1
}

// value reads the value of key k at b[i] into its field.
func (p *EventParser) value(b []byte, i, k int, b64 bool) (int, error) {
	if p.seen&(1<<k) != 0 {
		return i, syntaxErr(i, "duplicate key %q", keyName(k))
	}
	p.seen |= 1 << k
	if k == keySeq || k == keyAt {
		n, next, err := parseInt(b, i)
		if err != nil {
			return i, err
		}
		if k == keySeq {
			p.f.Seq = n
		} else {
			p.f.AtUnixUS = n
		}
		return next, nil
	}
	if i >= len(b) || b[i] != '"' {
		return i, syntaxErr(i, "%q must be a string", keyName(k))
	}
	v, next, err := p.str(b, i+1)
	if err != nil {
		return i, err
	}
	if b64 {
		start := len(p.scratch)
		if p.scratch, err = base64.StdEncoding.AppendDecode(p.scratch, v); err != nil {
			return i, syntaxErr(i, "%q_b64 is not base64", keyName(k))
		}
		v = p.scratch[start:len(p.scratch):len(p.scratch)]
	} else if !utf8.Valid(v) {
		// Writers put such bytes under "_b64": raw, other JSON readers
		// would see U+FFFD (or refuse the line) where the hash has them.
		return i, syntaxErr(i, "%q is not UTF-8 (bytes that are not go under %q)", keyName(k), keyName(k)+"_b64")
	}
	switch {
	case k >= keyType && k <= keyPrevHash:
		*p.f.texts()[k-keyType] = v
	case k == keyHash:
		p.hash = v
	case k == keyKind:
		if string(v) != "event" || b64 {
			return i, syntaxErr(i, "kind %q is not an event", v)
		}
		p.kindSeen = true
	}
	return next, nil
}

// eventKey maps a JSON key to its index and whether it is the "_b64" form;
// -1 for unknown keys.
func eventKey(key []byte) (int, bool) {
	for k, name := range eventKeys {
		if string(key) == name {
			return k, false
		}
	}
	const suffix = "_b64"
	if n := len(key) - len(suffix); n > 0 && string(key[n:]) == suffix {
		if k, _ := eventKey(key[:n]); k >= keyType && k <= keyHash {
			return k, true
		}
	}
	return -1, false
}

// str reads a JSON string whose opening quote is at b[i-1]; it returns the
// decoded value and the index after the closing quote.
func (p *EventParser) str(b []byte, i int) ([]byte, int, error) {
	k := quoteOrBackslash(b[i:])
	if k < 0 {
		return nil, len(b), syntaxErr(len(b), "string not closed")
	}
	if j := i + k; b[j] != '"' {
		return p.strEscaped(b, i, j)
	}
	return b[i : i+k : i+k], i + k + 1, nil
}

// strEscaped decodes a string with escapes into scratch: b[i:j] has none and
// b[j] is a backslash. Scratch has room for all of b (decoding only
// shrinks), so it writes by index.
func (p *EventParser) strEscaped(b []byte, i, j int) ([]byte, int, error) {
	start := len(p.scratch)
	out := p.scratch[:cap(p.scratch)]
	w := start + copy(out[start:], b[i:j])
	for {
		// b[j] is a backslash.
		if j+1 >= len(b) {
			return nil, j, syntaxErr(j, "string not closed")
		}
		switch c := b[j+1]; c {
		case '"', '\\', '/':
			out[w] = c
		case 'n':
			out[w] = '\n'
		case 'r':
			out[w] = '\r'
		case 't':
			out[w] = '\t'
		case 'b':
			out[w] = '\b'
		case 'f':
			out[w] = '\f'
		case 'u':
			r, n, ok := unicodeEscape(b[j:])
			if !ok {
				return nil, j, syntaxErr(j, "bad \\u escape")
			}
			w += utf8.EncodeRune(out[w:], r) - 1
			j += n - 2
		default:
			return nil, j, syntaxErr(j, "bad escape")
		}
		w++
		j += 2
		k := quoteOrBackslash(b[j:])
		if k < 0 {
			return nil, len(b), syntaxErr(len(b), "string not closed")
		}
		w += copy(out[w:], b[j:j+k])
		j += k
		if b[j] == '"' {
			p.scratch = out[:w]
			return out[start:w:w], j + 1, nil
		}
	}
}

// quoteOrBackslash returns the index of the first '"' or '\\' in b, or -1.
// It tests eight bytes at a time (SWAR): x^c has a zero byte where x has c,
// and (v-0x01…)&^v&0x80… marks zero bytes, exactly from the lowest one up,
// which is the one wanted. Strings in events are short, and their escapes
// dense, so this beats calling bytes.IndexByte twice per run.
func quoteOrBackslash(b []byte) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q, s := x^(lo*'"'), x^(lo*'\\')
		if m := ((q-lo)&^q | (s-lo)&^s) & hi; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if b[i] == '"' || b[i] == '\\' {
			return i
		}
	}
	return -1
}

// unicodeEscape decodes \uXXXX (and a following low surrogate) at b[0];
// lone surrogates become U+FFFD, as encoding/json does.
func unicodeEscape(b []byte) (rune, int, bool) {
	r, n, ok := contenthash.UnicodeEscape(b)
	if ok && utf16.IsSurrogate(r) {
		r = utf8.RuneError
	}
	return r, n, ok
}

// parseInt reads a JSON integer (no fraction or exponent) at b[i].
func parseInt(b []byte, i int) (int64, int, error) {
	start := i
	neg := false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	if i >= len(b) || b[i] < '0' || b[i] > '9' || (b[i] == '0' && i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '9') {
		return 0, start, syntaxErr(start, "expected an integer")
	}
	var n uint64
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if n > (1<<63)/10 {
			return 0, start, syntaxErr(start, "integer out of range")
		}
		n = n*10 + uint64(b[i]-'0')
	}
	if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
		return 0, start, syntaxErr(start, "expected an integer")
	}
	if neg {
		if n > 1<<63 {
			return 0, start, syntaxErr(start, "integer out of range")
		}
		return -int64(n), i, nil
	}
	if n > 1<<63-1 {
		return 0, start, syntaxErr(start, "integer out of range")
	}
	return int64(n), i, nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
