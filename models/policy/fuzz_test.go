package policy_test

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models/policy"
)

const fuzzFile = "policy.yaml"

// FuzzParse feeds policy files to Parse, which the watcher runs on every
// save of the file while the server runs: it must never panic, a refusal
// must be a *LoadError whose problems point into the file with a message
// and no Go stack, and an accepted file must evaluate requests to
// well-formed outcomes.
func FuzzParse(f *testing.F) {
	for _, path := range []string{"testdata/good.yaml", "../../docs/policy.example.yaml", "../../cmd/countersign/demopolicy/policy.yaml"} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, c := range libraryPanics {
		f.Add([]byte(c.src))
	}
	for _, s := range []string{goodV1, goodV2, badV3, "", "version: 1\n", "version: 1\nrules: [\n", "version: 1\nactions: [{name: a, params: [{name: n, type: int}]}]\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := policy.Parse(fuzzFile, data)
		if err != nil {
			if p != nil {
				t.Fatalf("a policy came back with the error %v", err)
			}
			checkRefusal(t, data, err)
			return
		}
		if p.Ref != policy.Ref(fuzzFile, data) {
			t.Fatalf("Ref %s", p.Ref)
		}
		again, err := policy.Parse(fuzzFile, data)
		if err != nil || again.Ref != p.Ref || again.RuleCount() != p.RuleCount() || !slices.Equal(again.Roles(), p.Roles()) || len(again.Actions()) != len(p.Actions()) {
			t.Fatalf("a second parse differs: %v", err)
		}
		checkOutcomes(t, p)
	})
}

// yamlLines is how many lines YAML sees in data: a line break is LF, CR
// or CR LF (YAML 1.2, 5.4), so a file saved with CR line endings has its
// problems reported at the lines an editor shows.
func yamlLines(data []byte) int {
	n := 1
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '\n':
			n++
		case '\r':
			n++
			if i+1 < len(data) && data[i+1] == '\n' {
				i++
			}
		}
	}
	return n
}

// checkRefusal checks what a refused file is told.
func checkRefusal(t *testing.T, data []byte, err error) {
	t.Helper()
	le, ok := policy.AsLoadError(err)
	if !ok || len(le.Problems) == 0 {
		t.Fatalf("refusal is not a LoadError with problems: %#v", err)
	}
	lines := yamlLines(data)
	last := 0
	for _, pr := range le.Problems {
		if pr.File != fuzzFile || pr.Line < 1 || pr.Line > lines+1 || pr.Column < 0 || strings.TrimSpace(pr.Message) == "" {
			t.Fatalf("problem %+v (the file has %d lines)", pr, lines)
		}
		if pr.Line < last {
			t.Fatalf("problems out of line order: %v", err)
		}
		last = pr.Line
	}
	for _, s := range []string{"goroutine ", "panic:", "runtime error", "nil pointer"} {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("the refusal shows a Go failure (%q): %v", s, err)
		}
	}
}

// checkOutcomes evaluates a request for every action, as a human and as an
// agent holding every role, with every window open.
func checkOutcomes(t *testing.T, p *policy.Policy) {
	t.Helper()
	roles := p.Roles()
	var windows []string
	for _, w := range p.Windows() {
		windows = append(windows, w.Name)
	}
	actions := []string{policy.ActionWindowOpen}
	for _, a := range p.Actions() {
		actions = append(actions, a.Name)
	}
	for _, action := range actions {
		for _, who := range []string{"human", "agent"} {
			in := policy.Input{
				Action: action, Params: map[string]any{}, Purpose: "fuzz",
				Requester: policy.Requester{Type: who, ID: "u1", Name: "alice", Roles: roles},
				Time:      time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC), OpenWindows: windows,
			}
			o := p.Evaluate(in)
			switch o.Kind {
			case policy.OutcomeDeny:
				if strings.TrimSpace(o.Reason) == "" {
					t.Fatalf("%s: a deny without a reason (rule %q)", action, o.Rule)
				}
			case policy.OutcomeAutoApprove:
				if o.GrantTTL <= 0 {
					t.Fatalf("%s: auto-approved without a grant lifetime", action)
				}
			case policy.OutcomeRequire:
				if o.Approvals < 1 || o.Approvals > policy.MaxApprovals || len(o.Roles) == 0 {
					t.Fatalf("%s: require %d approvals from %v", action, o.Approvals, o.Roles)
				}
				for _, r := range o.Roles {
					if !p.HasRole(r) {
						t.Fatalf("%s: approvals from undeclared role %q", action, r)
					}
				}
			default:
				t.Fatalf("%s: outcome kind %q", action, o.Kind)
			}
			if o.Explanation == "" {
				t.Fatalf("%s: outcome without an explanation", action)
			}
		}
	}
}
