package contenthash

import (
	"strconv"
	"unicode/utf8"
)

// The content of a request is encoded directly in its canonical form: the
// field names below are written in sorted order, strings are escaped as
// RFC 8785 prescribes, integers are written as decimals, and the embedded
// JSON values (parameters, tool inputs and outputs) go through the general
// canonicaliser. The result is byte for byte what Canonical produces (a
// property test holds the two together); it only skips encoding the posts
// and calls to JSON and parsing them back, which made hashing a long
// conversation cost milliseconds.

// maxExactInt is the largest integer RFC 8785 (ECMAScript numbers) writes
// exactly; larger ones fall back to the general path.
const maxExactInt = 1 << 53

// encoder appends canonical JSON to buf; the first error sticks.
type encoder struct {
	buf []byte
	err error
}

func (e *encoder) raw(s string) { e.buf = append(e.buf, s...) }

// str appends a JSON string the way RFC 8785 serialises it: only '"', '\\'
// and control characters are escaped (the short forms where JSON has them),
// everything else is written as is; invalid UTF-8 bytes become U+FFFD each,
// as encoding/json does.
func (e *encoder) str(s string) {
	const hex = "0123456789abcdef"
	e.buf = append(e.buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				e.buf = append(e.buf, '\\', c)
			case c >= 0x20:
				e.buf = append(e.buf, c)
			case c == '\b':
				e.buf = append(e.buf, '\\', 'b')
			case c == '\f':
				e.buf = append(e.buf, '\\', 'f')
			case c == '\n':
				e.buf = append(e.buf, '\\', 'n')
			case c == '\r':
				e.buf = append(e.buf, '\\', 'r')
			case c == '\t':
				e.buf = append(e.buf, '\\', 't')
			default:
				e.buf = append(e.buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			e.buf = utf8.AppendRune(e.buf, utf8.RuneError)
		} else {
			e.buf = append(e.buf, s[i:i+size]...)
		}
		i += size
	}
	e.buf = append(e.buf, '"')
}

func (e *encoder) int(n int64) {
	if n > maxExactInt || n < -maxExactInt {
		e.err = errNotExact
		return
	}
	e.buf = strconv.AppendInt(e.buf, n, 10)
}

func (e *encoder) bool(b bool) { e.buf = strconv.AppendBool(e.buf, b) }

// json appends an embedded JSON value in canonical form (null when empty,
// as encoding/json writes an empty json.RawMessage field).
func (e *encoder) json(raw []byte) {
	if len(raw) == 0 {
		e.raw("null")
		return
	}
	c, err := CanonicalizeJSON(raw)
	if err != nil {
		e.err = err
		return
	}
	e.buf = append(e.buf, c...)
}

// key appends `,"name":` (without the comma for the first field).
func (e *encoder) key(first bool, name string) {
	if !first {
		e.buf = append(e.buf, ',')
	}
	e.buf = append(e.buf, '"')
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, '"', ':')
}

// strField, intField and boolField write one member: its key, then its
// value.
func (e *encoder) strField(first bool, name, v string) { e.key(first, name); e.str(v) }

func (e *encoder) intField(first bool, name string, n int64) { e.key(first, name); e.int(n) }

func (e *encoder) boolField(first bool, name string, b bool) { e.key(first, name); e.bool(b) }

func (e *encoder) post(p *Post) {
	e.raw("{")
	e.strField(true, "author_id", p.AuthorID)
	e.strField(false, "author_kind", p.AuthorKind)
	e.strField(false, "author_name", p.AuthorName)
	e.strField(false, "bot_owner_id", p.BotOwnerID)
	e.boolField(false, "channel_member", p.ChannelMember)
	e.intField(false, "create_at", p.CreateAt)
	e.intField(false, "delete_at", p.DeleteAt)
	e.intField(false, "edit_at", p.EditAt)
	e.boolField(false, "from_webhook", p.FromWebhook)
	e.strField(false, "message", p.Message)
	e.strField(false, "override_username", p.OverrideUsername)
	e.strField(false, "post_id", p.PostID)
	e.strField(false, "root_id", p.RootID)
	e.raw("}")
}

func (e *encoder) call(c *ToolCall) {
	e.raw("{")
	e.strField(true, "call_id", c.CallID)
	e.strField(false, "ended_at", c.EndedAt)
	e.key(false, "input")
	e.json(c.Input)
	if c.ObservedBy != "" {
		e.strField(false, "observed_by", c.ObservedBy)
	}
	if len(c.Output) > 0 {
		e.key(false, "output")
		e.json(c.Output)
	}
	if c.OutputDigest != "" {
		e.key(false, "output_digest")
		e.str(c.OutputDigest)
	}
	e.strField(false, "parent_id", c.ParentID)
	e.strField(false, "started_at", c.StartedAt)
	e.strField(false, "status", c.Status)
	e.strField(false, "tool", c.Tool)
	e.raw("}")
}

func (e *encoder) content(c *Content) {
	e.raw("{")
	e.strField(true, "action", c.Action)
	e.key(false, "conversation")
	if c.Conversation == nil {
		e.raw("null") // as encoding/json writes a nil slice
	} else {
		e.raw("[")
		for i := range c.Conversation {
			if i > 0 {
				e.raw(",")
			}
			e.post(&c.Conversation[i])
		}
		e.raw("]")
	}
	e.strField(false, "kind", c.Kind)
	e.key(false, "params")
	e.json(c.Params)
	e.strField(false, "purpose", c.Purpose)
	e.key(false, "tool_chain")
	if c.ToolChain == nil {
		e.raw("null")
	} else {
		e.raw("[")
		for i := range c.ToolChain {
			if i > 0 {
				e.raw(",")
			}
			e.call(&c.ToolChain[i])
		}
		e.raw("]")
	}
	e.raw("}")
}
