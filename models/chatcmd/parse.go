// Package chatcmd parses what people type after /countersign into a
// command: a subcommand (help, status, cancel, open, window open|close) or
// an action from the catalogue with its arguments and purpose. It knows
// nothing of HTTP or Mattermost, so every rule is table-testable.
package chatcmd

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/countersign/countersign/models"
)

// Limits on one command's text.
const (
	// MaxTextBytes bounds the text after the trigger (Mattermost allows
	// 4000 characters in a message).
	MaxTextBytes = 16 << 10
	// MaxArgs bounds the arguments before the purpose.
	MaxArgs = 64
	// MaxWindowDuration is the longest change window one command may ask for.
	MaxWindowDuration = 7 * 24 * time.Hour
)

// Verb is what a command asks for.
type Verb string

// The verbs.
const (
	VerbHelp        Verb = "help"
	VerbStatus      Verb = "status"
	VerbCancel      Verb = "cancel"
	VerbOpen        Verb = "open"
	VerbWindowOpen  Verb = "window open"
	VerbWindowClose Verb = "window close"
	// VerbAction asks for an action of the catalogue (Command.Action).
	VerbAction Verb = "action"
)

// ThreadArg is the argument naming the thread to capture
// (thread=<permalink or post id>); it is never an action parameter.
const ThreadArg = "thread"

// Command is one parsed command.
type Command struct {
	Verb Verb
	// RequestID is the canonical request id for status, cancel and open.
	RequestID string
	// Action is the catalogue name for VerbAction.
	Action string
	// Positional are the bare arguments in order; Args the key=value ones.
	Positional []string
	Args       map[string]string
	// Thread is what thread= named (permalink or post id), if anything.
	Thread string
	// Purpose is the text after "--", trimmed; HasPurpose says whether
	// "--" was there at all.
	Purpose    string
	HasPurpose bool
	// Window and Duration are the change window's name and length for
	// the window verbs (Duration only for open, as typed, e.g. "2h").
	Window   string
	Duration string
}

var (
	argKey     = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	windowName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	actionWord = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)
)

// Parse reads the text after the trigger. Empty text means help. Errors
// are *models.ValidationError written for the person who typed the
// command.
func Parse(text string) (*Command, error) {
	if len(text) > MaxTextBytes {
		return nil, models.Invalid("text", fmt.Sprintf("is too long (at most %d bytes)", MaxTextBytes))
	}
	if !utf8.ValidString(text) {
		return nil, models.Invalid("text", "is not valid UTF-8")
	}
	toks, purpose, hasPurpose, err := tokenize(text)
	if err != nil {
		return nil, err
	}
	if len(toks) > MaxArgs {
		return nil, models.Invalid("text", fmt.Sprintf("has too many arguments (at most %d)", MaxArgs))
	}
	c := &Command{Purpose: purpose, HasPurpose: hasPurpose}
	if len(toks) == 0 {
		if hasPurpose {
			return nil, models.Invalid("action", "is missing before --")
		}
		c.Verb = VerbHelp
		return c, nil
	}
	head := strings.ToLower(toks[0].text)
	rest := toks[1:]
	switch {
	case head == "help" && !toks[0].quoted:
		if len(rest) > 0 || hasPurpose {
			return nil, models.Invalid("help", "takes no arguments")
		}
		c.Verb = VerbHelp
	case (head == "status" || head == "cancel" || head == "open") && !toks[0].quoted:
		c.Verb = Verb(head)
		if len(rest) != 1 || hasPurpose {
			return nil, models.Invalid(head, fmt.Sprintf("needs exactly one request id, e.g. %s REQ-7KM3QX9A2D", head))
		}
		id := models.NormalizeRequestID(rest[0].text)
		if !requestID.MatchString(id) {
			return nil, models.Invalid(head, fmt.Sprintf("%q is not a request id (they look like REQ-7KM3QX9A2D)", rest[0].text))
		}
		c.RequestID = id
	case head == "window" && !toks[0].quoted:
		return parseWindow(c, rest)
	default:
		return parseAction(c, toks)
	}
	return c, nil
}

// requestID is the shape of a canonical request id.
var requestID = regexp.MustCompile(`^REQ-[0-9A-HJKMNP-TV-Z]{10}$`)

func parseWindow(c *Command, rest []token) (*Command, error) {
	if len(rest) == 0 {
		return nil, models.Invalid("window", "needs open or close: window open NAME DURATION -- purpose, or window close NAME")
	}
	sub := strings.ToLower(rest[0].text)
	args := rest[1:]
	switch sub {
	case "open":
		if len(args) != 2 {
			return nil, models.Invalid("window", "usage: window open NAME DURATION -- purpose (e.g. window open db-maint 2h -- schema migration)")
		}
		c.Verb = VerbWindowOpen
		c.Window, c.Duration = strings.ToLower(args[0].text), args[1].text
		d, err := time.ParseDuration(c.Duration)
		if err != nil || d <= 0 {
			return nil, models.Invalid("window.duration", fmt.Sprintf("%q is not a positive duration such as 30m or 2h", c.Duration))
		}
		if d > MaxWindowDuration {
			return nil, models.Invalid("window.duration", fmt.Sprintf("is longer than %s", MaxWindowDuration))
		}
		if !c.HasPurpose || c.Purpose == "" {
			return nil, models.Invalid("purpose", "a change window needs a purpose after --")
		}
	case "close":
		if len(args) != 1 || c.HasPurpose {
			return nil, models.Invalid("window", "usage: window close NAME")
		}
		c.Verb = VerbWindowClose
		c.Window = strings.ToLower(args[0].text)
	default:
		return nil, models.Invalid("window", fmt.Sprintf("%q is neither open nor close", rest[0].text))
	}
	if !windowName.MatchString(c.Window) {
		return nil, models.Invalid("window.name", "must be 1–64 lower-case letters, digits, '.', '_' or '-'")
	}
	return c, nil
}

func parseAction(c *Command, toks []token) (*Command, error) {
	c.Verb = VerbAction
	c.Action = strings.ToLower(toks[0].text)
	if toks[0].quoted || !actionWord.MatchString(c.Action) {
		return nil, models.Invalid("action", fmt.Sprintf("%q is not a command or action name (try help)", toks[0].text))
	}
	c.Args = map[string]string{}
	for _, t := range toks[1:] {
		key, val, ok := t.keyValue()
		if !ok {
			c.Positional = append(c.Positional, t.text)
			continue
		}
		if !argKey.MatchString(key) {
			return nil, models.Invalid("params", fmt.Sprintf("%q is not a parameter name", key))
		}
		if key == ThreadArg {
			if c.Thread != "" {
				return nil, models.Invalid(ThreadArg, "is given twice")
			}
			if val == "" {
				return nil, models.Invalid(ThreadArg, "needs a permalink or post id")
			}
			c.Thread = val
			continue
		}
		if _, dup := c.Args[key]; dup {
			return nil, models.Invalid("params."+key, "is given twice")
		}
		c.Args[key] = val
	}
	return c, nil
}

// token is one argument: its text with quotes removed, and where its
// first '=' was outside quotes (-1 if none).
type token struct {
	text   string
	quoted bool
	eq     int
}

// keyValue splits key=value at the first unquoted '='.
func (t token) keyValue() (string, string, bool) {
	if t.eq <= 0 {
		return "", "", false
	}
	return strings.ToLower(t.text[:t.eq]), t.text[t.eq+1:], true
}

// tokenize splits text at unquoted white space. "..." groups words (\" and
// \\ escape inside); an unquoted "--" (or the "—" that editors make of it)
// ends the arguments and the rest of the text, trimmed, is the purpose.
func tokenize(text string) (toks []token, purpose string, hasPurpose bool, err error) {
	var (
		cur     strings.Builder
		inTok   bool
		inQuote bool
		quoted  bool
		eq      = -1
	)
	flush := func() {
		if inTok {
			toks = append(toks, token{text: cur.String(), quoted: quoted, eq: eq})
		}
		cur.Reset()
		inTok, quoted, eq = false, false, -1
	}
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case inQuote && r == '\\' && i+size < len(text) && (text[i+size] == '"' || text[i+size] == '\\'):
			cur.WriteByte(text[i+size])
			i += size + 1
			continue
		case r == '"':
			inQuote = !inQuote
			inTok, quoted = true, true
		case inQuote:
			cur.WriteRune(r)
		case unicode.IsSpace(r):
			flush()
		default:
			if !inTok && isPurposeMark(text[i:]) {
				return toks, strings.TrimSpace(text[i+len(purposeMarkAt(text[i:])):]), true, nil
			}
			if r == '=' && eq < 0 {
				eq = cur.Len()
			}
			inTok = true
			cur.WriteRune(r)
		}
		i += size
	}
	if inQuote {
		return nil, "", false, models.Invalid("text", "has an unterminated quote (\")")
	}
	flush()
	return toks, "", false, nil
}

// isPurposeMark reports whether s starts with "--" or "—" followed by the
// end or white space.
func isPurposeMark(s string) bool {
	m := purposeMarkAt(s)
	if m == "" {
		return false
	}
	rest := s[len(m):]
	if rest == "" {
		return true
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return unicode.IsSpace(r)
}

func purposeMarkAt(s string) string {
	for _, m := range []string{"--", "—"} {
		if strings.HasPrefix(s, m) {
			return m
		}
	}
	return ""
}
