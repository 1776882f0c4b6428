package safeyaml

import (
	"errors"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

type doc struct {
	Version int              `yaml:"version"`
	Rules   []map[string]any `yaml:"rules"`
}

// TestDecodeTurnsAPanicIntoAnError uses inputs on which goccy/go-yaml
// v1.19.2 dereferences nil: a tag with nothing after it, where a list is
// expected.
func TestDecodeTurnsAPanicIntoAnError(t *testing.T) {
	cases := []struct {
		src  string
		line int
	}{
		{"rules: ! ", 1},
		{"rules: !!seq ", 1},
		{"version: 1\n# a comment\nrules: !\nother: x\n", 3},
	}
	for _, c := range cases {
		var d doc
		err := Decode("policy.yaml", []byte(c.src), &d, yaml.DisallowUnknownField())
		var pe *PanicError
		if !errors.As(err, &pe) || pe.File != "policy.yaml" || pe.Line != c.line {
			t.Errorf("%q: %#v, want a PanicError at line %d", c.src, err, c.line)
			continue
		}
		want := "policy.yaml: the YAML could not be read (the parser failed on this input near line "
		if msg := err.Error(); !strings.HasPrefix(msg, want) || strings.Contains(msg, "runtime") || strings.Contains(msg, "nil pointer") {
			t.Errorf("%q: message %q", c.src, msg)
		}
		if err := Unmarshal("policy.yaml", []byte(c.src), &d); !errors.As(err, &pe) || pe.Line != c.line {
			t.Errorf("Unmarshal %q: %v", c.src, err)
		}
	}
}

func TestReadersBehaveLikeTheLibraryOtherwise(t *testing.T) {
	var d doc
	if err := Decode("p.yaml", []byte("version: 2\nrules: [{a: 1}]\n"), &d); err != nil || d.Version != 2 || len(d.Rules) != 1 {
		t.Fatalf("good input: %+v %v", d, err)
	}
	var pe *PanicError
	err := Decode("p.yaml", []byte("version: 1\nbogus: 2\n"), &d, yaml.DisallowUnknownField())
	if err == nil || errors.As(err, &pe) || !strings.Contains(err.Error(), "unknown field") {
		t.Fatalf("unknown field: %v", err)
	}
	if f, err := ParseBytes("p.yaml", []byte("a: [1, 2]\n"), 0); err != nil || f == nil || len(f.Docs) != 1 {
		t.Fatalf("parse: %v %v", f, err)
	}
	if _, err := ParseBytes("p.yaml", []byte("a: [1, 2\n"), 0); err == nil || errors.As(err, &pe) {
		t.Fatalf("syntax error: %v", err)
	}
	var m map[string]int
	if err := Unmarshal("", []byte("a: 1\n"), &m); err != nil || m["a"] != 1 {
		t.Fatalf("unmarshal: %v %v", m, err)
	}
}

// TestGuardFindsTheFailingLine checks the bisection with a reader that
// panics once its input holds a given line.
func TestGuardFindsTheFailingLine(t *testing.T) {
	lines := make([]string, 40)
	for i := range lines {
		lines[i] = "ok"
	}
	for _, bad := range []int{1, 2, 17, 39, 40} {
		l := append([]string(nil), lines...)
		l[bad-1] = "boom"
		src := []byte(strings.Join(l, "\n"))
		err := guard("f.yaml", src, func(b []byte) error {
			if strings.Contains(string(b), "boom") {
				var p *PanicError
				_ = p.File // a nil dereference, like the library's
			}
			return nil
		})
		var pe *PanicError
		if !errors.As(err, &pe) || pe.Line != bad {
			t.Errorf("boom on line %d: %v", bad, err)
		}
	}
	// A reader that fails only on the whole input says so without a line.
	n := 0
	err := guard("", []byte("a\nb\n"), func([]byte) error {
		n++
		if n == 1 {
			panic("once")
		}
		return nil
	})
	if err == nil || err.Error() != "the YAML could not be read (the parser failed on this input)" {
		t.Errorf("flaky reader: %v", err)
	}
	if err := guard("f", []byte("x"), func([]byte) error { return errors.New("plain") }); err == nil || err.Error() != "plain" {
		t.Errorf("plain error: %v", err)
	}
}
