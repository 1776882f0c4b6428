package chatcmd

import (
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/policy"
)

// FuzzParse feeds Parse what people type after /countersign. A refusal
// must be a validation error with a field and a reason; a command must be
// well formed, and written back as text (every argument quoted) it must
// parse to the same command, so nothing in a parse depends on how the
// person happened to space or quote it.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "help", "status REQ-7KM3QX9A2D", "cancel 7km3qx9a2d", "OPEN req-7km3qx9a2d",
		"restart payments-api env=prod -- OOM loop, INC-4211",
		`scale web replicas=3 note="two words" "quoted bare" -- `,
		`restart api thread=https://chat.example.com/ops/pl/abc — fix it -- really`,
		`restart "a \"b\" c=d" "back\\slash" "" =x`, `restart --force`, `restart grace=1m30s "x"=y`,
		"window open db-maint 2h -- schema migration", "window close DB-maint", `"help"`, "help\u00a0me", "restart\tx\u2003y",
		`restart "unterminated`, "x\xff",
	} {
		f.Add(s)
	}
	restart := &policy.Action{Name: "restart", Params: []policy.Param{
		{Name: "service", Required: true, Pattern: `[a-z0-9-]+`},
		{Name: "env", Required: true, Allowed: []string{"prod", "staging"}},
		{Name: "grace", Type: policy.ParamDuration},
		{Name: "replicas", Type: policy.ParamInt},
		{Name: "force", Type: policy.ParamBool},
	}}
	if err := restart.Compile(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse(text)
		if err != nil {
			var ve *models.ValidationError
			if c != nil || !errors.As(err, &ve) || !errors.Is(err, models.ErrInvalid) || ve.Field == "" || strings.TrimSpace(ve.Reason) == "" {
				t.Fatalf("Parse(%q) = %v, %#v; want a validation error with field and reason", text, c, err)
			}
			return
		}
		checkCommand(t, text, c)
		again := render(c)
		if len(again) > MaxTextBytes {
			return
		}
		c2, err := Parse(again)
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("Parse(%q) = %+v\nwritten back as %q it parses to %+v, %v", text, c, again, c2, err)
		}
		if c.Verb == VerbAction && c.Action == restart.Name {
			checkParams(t, c, restart)
		}
	})
}

// checkCommand checks what every command must hold.
func checkCommand(t *testing.T, text string, c *Command) {
	t.Helper()
	fail := func(why string) { t.Fatalf("Parse(%q) = %+v: %s", text, c, why) }
	switch c.Verb {
	case VerbHelp:
		if c.HasPurpose {
			fail("help with a purpose")
		}
	case VerbStatus, VerbCancel, VerbOpen:
		if !requestID.MatchString(c.RequestID) || c.HasPurpose {
			fail("bad request id or a purpose")
		}
	case VerbWindowOpen, VerbWindowClose:
		if !windowName.MatchString(c.Window) || (c.Verb == VerbWindowOpen && (c.Duration == "" || c.Purpose == "")) {
			fail("bad window")
		}
	case VerbAction:
		if !actionWord.MatchString(c.Action) || c.Args == nil || len(c.Positional)+len(c.Args) > MaxArgs {
			fail("bad action")
		}
		for k := range c.Args {
			if !argKey.MatchString(k) || k == ThreadArg {
				fail("bad argument name " + k)
			}
		}
	default:
		fail("unknown verb")
	}
	if c.Purpose != strings.TrimSpace(c.Purpose) || (!c.HasPurpose && c.Purpose != "") {
		fail("purpose not trimmed, or without --")
	}
}

// checkParams: the arguments become parameters of the action, or a
// validation error.
func checkParams(t *testing.T, c *Command, a *policy.Action) {
	t.Helper()
	params, err := c.Params(a)
	if err != nil {
		if !errors.Is(err, models.ErrInvalid) {
			t.Fatalf("Params: %v is not a validation error", err)
		}
		return
	}
	for name := range params {
		if _, ok := a.Param(name); !ok {
			t.Fatalf("Params: undeclared parameter %s", name)
		}
	}
}

// render writes c back as command text, quoting every argument.
func render(c *Command) string {
	var parts []string
	switch c.Verb {
	case VerbHelp:
		parts = []string{"help"}
	case VerbStatus, VerbCancel, VerbOpen:
		parts = []string{string(c.Verb), c.RequestID}
	case VerbWindowOpen:
		parts = []string{"window", "open", quote(c.Window), quote(c.Duration)}
	case VerbWindowClose:
		parts = []string{"window", "close", quote(c.Window)}
	case VerbAction:
		parts = []string{c.Action}
		for _, p := range c.Positional {
			parts = append(parts, quote(p))
		}
		keys := make([]string, 0, len(c.Args))
		for k := range c.Args {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			parts = append(parts, k+"="+quote(c.Args[k]))
		}
		if c.Thread != "" {
			parts = append(parts, ThreadArg+"="+quote(c.Thread))
		}
	}
	s := strings.Join(parts, " ")
	if c.HasPurpose {
		s += " -- " + c.Purpose
	}
	return s
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
