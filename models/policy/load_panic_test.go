package policy_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models/policy"
)

// libraryPanics are policy files on which goccy/go-yaml v1.19.2 panics
// instead of returning an error (issue 10): a tag with nothing after it
// where a list is expected. Each is refused at the line given.
var libraryPanics = []struct {
	src  string
	line int
}{
	{"rules: ! ", 1},
	{"rules: !!seq ", 1},
	{"version: 1\nactions: [{name: a}]\nrules: !\n", 3},
	{"version: 1\nroles:\n  sre:\n    idp_groups: !\n", 4},
	{"version: 1\nactions:\n  - name: a\n    requesters: !\n", 4},
}

func TestParseRefusesFilesTheYAMLLibraryFailsOn(t *testing.T) {
	for _, c := range libraryPanics {
		p, err := policy.Parse("policy.yaml", []byte(c.src))
		le, ok := policy.AsLoadError(err)
		if !ok || p != nil || len(le.Problems) != 1 {
			t.Errorf("%q: %v, %v; want one problem", c.src, p, err)
			continue
		}
		pr := le.Problems[0]
		if pr.File != "policy.yaml" || pr.Line != c.line || !strings.Contains(pr.Message, "the YAML could not be read") {
			t.Errorf("%q: problem %+v, want policy.yaml line %d", c.src, pr, c.line)
		}
		if msg := err.Error(); strings.Contains(msg, "runtime error") || strings.Contains(msg, "goroutine") || strings.Contains(msg, "nil pointer") {
			t.Errorf("%q: the message shows the library's failure: %q", c.src, msg)
		}
	}
}

// TestParseCasesRefusesFilesTheYAMLLibraryFailsOn: the cases file of
// `countersign policy test` is outside input too.
func TestParseCasesRefusesFilesTheYAMLLibraryFailsOn(t *testing.T) {
	_, err := policy.ParseCases("p.cases.yaml", []byte("- name: x\n  windows: !\n"))
	le, ok := policy.AsLoadError(err)
	if !ok || len(le.Problems) != 1 || le.Problems[0].Line != 2 || !strings.HasPrefix(err.Error(), "p.cases.yaml:2: the YAML could not be read") {
		t.Fatalf("%v", err)
	}
}

// TestWatcherKeepsThePolicyWhenTheYAMLLibraryFails saves such a file under
// a running watcher: the goroutine survives, the policy in force stays,
// the refusal is reported, and a later good file still loads.
func TestWatcherKeepsThePolicyWhenTheYAMLLibraryFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	tick := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write(t, path, goodV1, &tick)
	h := policy.NewHolder(nil)
	events := make(chan policy.LoadEvent, 8)
	w := policy.NewWatcher(path, h, policy.WatchOptions{Interval: 10 * time.Millisecond, OnEvent: func(ev policy.LoadEvent) { events <- ev }})
	if err := w.Reload(); err != nil {
		t.Fatal(err)
	}
	<-events
	v1 := h.Current()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)

	write(t, path, "rules: ! ", &tick)
	ev := next(t, events)
	if ev.Loaded() || ev.InForce != v1.Ref || !strings.HasPrefix(ev.Err.Error(), path+":1: the YAML could not be read") {
		t.Fatalf("refusal %+v", ev)
	}
	if h.Current() != v1 {
		t.Fatal("the policy in force changed")
	}
	if st := w.Status(); st.Ref != v1.Ref || !strings.Contains(st.Problem, "the YAML could not be read") {
		t.Fatalf("status %+v", st)
	}

	write(t, path, goodV2, &tick)
	if ev := next(t, events); !ev.Loaded() || h.Current().Ref != policy.Ref(path, []byte(goodV2)) {
		t.Fatalf("the watcher stopped loading: %+v", ev)
	}
}

func next(t *testing.T, events <-chan policy.LoadEvent) policy.LoadEvent {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no load event")
		return policy.LoadEvent{}
	}
}
