package policy

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustLoad(t *testing.T, path string) *Policy {
	t.Helper()
	p, err := Load(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return p
}

func mustParse(t *testing.T, src string) *Policy {
	t.Helper()
	p, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return p
}

func TestLoadGoodFile(t *testing.T) {
	p := mustLoad(t, "testdata/good.yaml")
	data, _ := os.ReadFile("testdata/good.yaml")
	if p.Ref != Ref("testdata/good.yaml", data) || !strings.HasPrefix(p.Ref, "good.yaml@") || len(p.Ref) != len("good.yaml@")+12 {
		t.Errorf("Ref = %q", p.Ref)
	}
	if a, ok := p.Action("restart"); !ok || a.Executor != "kube" || !a.PurposeRequired || len(a.Params) != 2 {
		t.Errorf("restart = %+v, %v", a, ok)
	}
	if got := names(p.Actions()); !slices.Equal(got, []string{"restart", "db.migrate"}) {
		t.Errorf("Actions = %v", got)
	}
	if got := names(p.ActionsFor([]string{"sre-leads"})); !slices.Equal(got, []string{"db.migrate"}) {
		t.Errorf("ActionsFor(sre-leads) = %v", got)
	}
	if w, ok := p.Window("prod"); !ok || w.MaxDuration != 4*time.Hour {
		t.Errorf("window prod = %+v %v", w, ok)
	}
	if got := p.Roles(); !slices.Equal(got, []string{"dev", "sre", "sre-leads"}) {
		t.Errorf("Roles = %v", got)
	}
}

func names(as []*Action) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Name)
	}
	return out
}

func TestRolesMapping(t *testing.T) {
	p := mustLoad(t, "testdata/good.yaml")
	if got := p.RolesForIdPGroups([]string{"platform", "sre-leads", "nobody", "sre"}); !slices.Equal(got, []string{"sre", "sre-leads"}) {
		t.Errorf("RolesForIdPGroups = %v", got)
	}
	if got := p.RolesForIdPGroups(nil); len(got) != 0 {
		t.Errorf("no groups: %v", got)
	}
	for _, u := range []string{"bob", "BOB", "@bob", " Bob "} {
		if got := p.RolesForMattermostUser(u); !slices.Equal(got, []string{"sre"}) {
			t.Errorf("RolesForMattermostUser(%q) = %v", u, got)
		}
	}
	if got := p.RolesForMattermostUser("mallory"); len(got) != 0 {
		t.Errorf("unknown user has roles %v", got)
	}
}

// TestLoadProblems checks that every kind of bad file is refused with the
// line of the problem.
func TestLoadProblems(t *testing.T) {
	const head = "version: 1\nroles:\n  sre: {idp_groups: [sre]}\nactions:\n  - name: restart\n    params:\n      - {name: env, allowed: [prod, staging]}\nrules:\n"
	// head has 8 lines; the first rule starts at line 9.
	cases := []struct {
		name, src string
		line      int
		want      string
	}{
		{"yaml syntax", "version: 1\nroles: [\n", 2, ""},
		{"unknown top-level field", "version: 1\nrulez: []\n", 2, "unknown field"},
		{"unknown rule field", head + "  - name: a\n    when: \"true\"\n    deny: no\n    colour: red\n", 12, "unknown field"},
		{"unknown field in require", head + "  - name: a\n    when: \"true\"\n    require: {roles: [sre], aprovals: 2}\n", 11, "unknown field"},
		{"bad CEL syntax", head + "  - name: a\n    when: request.params.env == \n    deny: no\n", 10, "CEL"},
		{"CEL type error", head + "  - name: a\n    when: request.action == 1\n    deny: no\n", 10, "CEL"},
		{"CEL unknown variable", head + "  - name: a\n    when: user.name == \"x\"\n    deny: no\n", 10, "undeclared reference"},
		{"CEL not bool", head + "  - name: a\n    when: request.action\n    deny: no\n", 10, "must be a bool"},
		{"CEL error on second line of block", head + "  - name: a\n    when: |\n      request.action == \"restart\" &&\n      request.purpose + 1\n    deny: no\n", 12, "CEL"},
		{"unknown role in require", head + "  - name: a\n    when: \"true\"\n    require:\n      roles: [sre, dba]\n", 12, `unknown role "dba"`},
		{"unknown role in CEL", head + "  - name: a\n    when: '\"dba\" in requester.roles'\n    deny: no\n", 10, `unknown role "dba"`},
		{"unknown role in requesters", "version: 1\nroles:\n  sre: {}\nactions:\n  - name: x\n    requesters: [sre, ops]\n", 6, `unknown role "ops"`},
		{"unknown action in CEL", head + "  - name: a\n    when: request.action == \"reboot\"\n    deny: no\n", 10, `unknown action "reboot"`},
		{"unknown action in list", head + "  - name: a\n    actions: [restart, reboot]\n    when: \"true\"\n    deny: no\n", 10, `unknown action "reboot"`},
		{"unknown window", head + "  - name: a\n    when: \"true\"\n    require: {roles: [sre], window: prod}\n", 11, `unknown change window "prod"`},
		{"two outcomes", head + "  - name: a\n    when: \"true\"\n    deny: no\n    auto_approve: {}\n", 9, "exactly one outcome"},
		{"no outcome", head + "  - name: a\n    when: \"true\"\n", 9, "exactly one outcome"},
		{"no condition", head + "  - name: a\n    deny: no\n", 9, "no when"},
		{"duplicate rule", head + "  - name: a\n    when: \"true\"\n    deny: no\n  - name: a\n    when: \"true\"\n    deny: no\n", 12, "declared twice"},
		{"bad duration", head + "  - name: a\n    when: \"true\"\n    require: {roles: [sre], ttl: soon}\n", 11, "not a duration"},
		{"bad pattern", "version: 1\nactions:\n  - name: x\n    params:\n      - name: a\n      - {name: b, pattern: '[a-'}\n", 6, "pattern"},
		{"wrong version", "version: 2\n", 1, "version must be 1"},
		{"empty", "\n\n", 1, "empty"},
		{"approvals out of range", head + "  - name: a\n    when: \"true\"\n    require:\n      approvals: 11\n      roles: [sre]\n", 12, "between 1 and 10"},
		{"window.open declared", "version: 1\nactions:\n  - name: window.open\n", 3, "built in"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(c.src))
			le, ok := AsLoadError(err)
			if !ok {
				t.Fatalf("err = %v (%T), want *LoadError", err, err)
			}
			first := le.Problems[0]
			if first.File != "bad.yaml" || first.Line != c.line {
				t.Errorf("problem at %s:%d, want line %d: %s", first.File, first.Line, c.line, le.Error())
			}
			if !strings.Contains(le.Error(), c.want) {
				t.Errorf("error %q does not mention %q", le.Error(), c.want)
			}
			if !strings.HasPrefix(le.Error(), "bad.yaml:") {
				t.Errorf("error %q does not start with FILE:LINE", le.Error())
			}
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	src := "version: 1\nroles:\n  sre: {}\nrules:\n  - name: a\n    when: \"true\"\n    require: {roles: [x]}\n  - name: b\n    when: request.action == 2\n    deny: no\n"
	_, err := Parse("p.yaml", []byte(src))
	le, ok := AsLoadError(err)
	if !ok || len(le.Problems) != 2 {
		t.Fatalf("err = %v", err)
	}
	if le.Problems[0].Line != 7 || le.Problems[1].Line != 9 {
		t.Errorf("lines = %d, %d: %s", le.Problems[0].Line, le.Problems[1].Line, le)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml")
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v", err)
	}
}
