package policy_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/policy"
	"github.com/countersign/countersign/models/storetest"
)

const goodV1 = "version: 1\nactions: [{name: a}]\nrules:\n  - {name: all, when: \"true\", auto_approve: {}}\n"
const goodV2 = "version: 1\nactions: [{name: a}, {name: b}]\nrules:\n  - {name: none, when: \"false\", deny: never}\n"
const badV3 = "version: 1\nactions: [{name: a}]\nrules:\n  - {name: x, when: request.action == 3, deny: no}\n"

// write replaces the file and moves its modification time forward, so the
// watcher sees a change even on coarse file-system clocks.
func write(t *testing.T, path, src string, tick *time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	*tick = tick.Add(time.Second)
	if err := os.Chtimes(path, *tick, *tick); err != nil {
		t.Fatal(err)
	}
}

// settle looks at the file twice, as the watcher's ticks do: a change is
// loaded at the second look that sees it unchanged. The first look must
// change nothing.
func settle(t *testing.T, w *policy.Watcher, h *policy.Holder) error {
	t.Helper()
	before, status := h.Current(), w.Status()
	if err := w.Check(); err != nil || h.Current() != before || w.Status() != status {
		t.Fatalf("the first look at a change acted on it: %v", err)
	}
	return w.Check()
}

func TestWatcherSwapsOnlyValidFilesAndAuditsEveryAttempt(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		path := filepath.Join(t.TempDir(), "policy.yaml")
		tick := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		write(t, path, goodV1, &tick)
		var events []policy.LoadEvent
		audit := policy.AuditLoads(s, nil)
		h := policy.NewHolder(nil)
		w := policy.NewWatcher(path, h, policy.WatchOptions{OnEvent: func(ev policy.LoadEvent) { events = append(events, ev); audit(ev) }})
		if err := w.Reload(); err != nil {
			t.Fatal(err)
		}
		v1 := h.Current()
		if v1 == nil || v1.Ref != policy.Ref(path, []byte(goodV1)) || w.Status().Ref != v1.Ref {
			t.Fatalf("first load: %v %+v", v1, w.Status())
		}
		// Unchanged file: nothing happens.
		if err := w.Check(); err != nil || h.Current() != v1 || len(events) != 1 {
			t.Fatalf("unchanged: %v, %d events", err, len(events))
		}

		write(t, path, goodV2, &tick)
		if err := settle(t, w, h); err != nil {
			t.Fatal(err)
		}
		v2 := h.Current()
		if v2 == v1 || v2.Ref != policy.Ref(path, []byte(goodV2)) || len(v2.Actions()) != 2 {
			t.Fatalf("good reload did not swap: %v", v2.Ref)
		}

		write(t, path, badV3, &tick)
		err := settle(t, w, h)
		if _, ok := policy.AsLoadError(err); !ok || !strings.HasPrefix(err.Error(), path+":4:") {
			t.Fatalf("bad file: %v", err)
		}
		if h.Current() != v2 {
			t.Fatal("a bad file replaced the policy in force")
		}
		st := w.Status()
		if st.Ref != v2.Ref || !strings.Contains(st.Problem, path+":4:") || st.ProblemAt.IsZero() {
			t.Errorf("status %+v", st)
		}
		// The same bad file is reported once, not at every look.
		tick = tick.Add(time.Second)
		_ = os.Chtimes(path, tick, tick)
		_ = settle(t, w, h)
		if len(events) != 3 {
			t.Errorf("%d events after re-checking the same bad file", len(events))
		}

		// Fixing the file clears the problem.
		write(t, path, goodV1, &tick)
		if err := settle(t, w, h); err != nil || h.Current().Ref != v1.Ref || w.Status().Problem != "" {
			t.Fatalf("fixed: %v %+v", err, w.Status())
		}

		var evs []models.AuditEvent
		if err := s.DB(context.Background()).Order("seq").Find(&evs).Error; err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, e := range evs {
			types = append(types, e.Type)
		}
		if !slices.Equal(types, []string{"policy.loaded", "policy.loaded", "policy.rejected", "policy.loaded"}) {
			t.Fatalf("audit %v", types)
		}
		if !strings.Contains(evs[2].Payload, "policy.yaml:4:") || evs[2].PolicyRef != v2.Ref {
			t.Errorf("rejected event %+v", evs[2])
		}
	})
}

func TestWatcherReportsAMissingFileAndKeepsThePolicy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(goodV1), 0o600); err != nil {
		t.Fatal(err)
	}
	h := policy.NewHolder(nil)
	n := 0
	w := policy.NewWatcher(path, h, policy.WatchOptions{OnEvent: func(policy.LoadEvent) { n++ }})
	if err := w.Reload(); err != nil {
		t.Fatal(err)
	}
	p := h.Current()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := w.Check(); err == nil || h.Current() != p {
		t.Fatalf("missing file: %v", err)
	}
	_ = w.Check()
	if n != 2 || w.Status().Problem == "" {
		t.Errorf("%d events, status %+v", n, w.Status())
	}
}

func TestWatcherRunPicksUpChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	tick := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write(t, path, goodV1, &tick)
	h := policy.NewHolder(nil)
	loaded := make(chan string, 4)
	w := policy.NewWatcher(path, h, policy.WatchOptions{Interval: 10 * time.Millisecond, OnEvent: func(ev policy.LoadEvent) { loaded <- ev.Ref }})
	if err := w.Reload(); err != nil {
		t.Fatal(err)
	}
	<-loaded
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	write(t, path, goodV2, &tick)
	if got := <-loaded; got != policy.Ref(path, []byte(goodV2)) {
		t.Fatalf("loaded %s", got)
	}
}

// TestWatcherWaitsForAFileToStopChanging: a file written in place in two
// parts, each seen by a look (an editor saving slowly), is not loaded
// half-way even when the first part is a valid policy: nothing happens
// until two looks in a row see the same size and time, and then the whole
// file is put in force, with one event.
func TestWatcherWaitsForAFileToStopChanging(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	tick := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write(t, path, goodV1, &tick)
	h := policy.NewHolder(nil)
	var events []policy.LoadEvent
	w := policy.NewWatcher(path, h, policy.WatchOptions{OnEvent: func(ev policy.LoadEvent) { events = append(events, ev) }})
	if err := w.Reload(); err != nil {
		t.Fatal(err)
	}
	v1 := h.Current()
	half := goodV2[:strings.Index(goodV2, "rules:")] + "rules:\n  - {name: all, when: 'true', auto_approve: {}}\n"
	if _, err := policy.Parse(path, []byte(half)); err != nil {
		t.Fatalf("the first part should be a valid policy of its own: %v", err)
	}
	write(t, path, half, &tick)
	if err := w.Check(); err != nil || h.Current() != v1 {
		t.Fatalf("first part, first look: %v", err)
	}
	write(t, path, goodV2, &tick)
	if err := w.Check(); err != nil || h.Current() != v1 || len(events) != 1 {
		t.Fatalf("whole file, first look: %v, %d events", err, len(events))
	}
	if err := w.Check(); err != nil || h.Current().Ref != policy.Ref(path, []byte(goodV2)) || len(events) != 2 {
		t.Fatalf("whole file, second look: %v, in force %s, %d events", err, h.Current().Ref, len(events))
	}
}
