package policy

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// DefaultReloadInterval is how often a Watcher looks at its file.
const DefaultReloadInterval = 5 * time.Second

// LoadEvent reports one attempt to put a policy file in force.
type LoadEvent struct {
	Path string
	At   time.Time
	// Ref is the new policy's reference when it was loaded; InForce is
	// the reference in force after the attempt (the old one on failure).
	Ref     string
	InForce string
	// Previous is the reference that was in force before.
	Previous string
	// Err is why the file was refused (a *LoadError lists its problems).
	Err error
}

// Loaded reports whether the attempt put a new policy in force.
func (e LoadEvent) Loaded() bool { return e.Err == nil }

// Status is what the portal shows about the policy in force.
type Status struct {
	Path     string
	Ref      string
	LoadedAt time.Time
	// Problem is the last refused file's problems ("file:line: message"
	// lines), empty when the file on disk is the one in force.
	Problem   string
	ProblemAt time.Time
}

// WatchOptions configure a Watcher.
type WatchOptions struct {
	// Interval between looks at the file; default DefaultReloadInterval.
	Interval time.Duration
	// Logger receives loads and refusals; nil discards.
	Logger *slog.Logger
	// OnEvent, when set, is told of every load and refusal (e.g. to audit
	// them, see AuditLoads). It runs on the watcher's goroutine.
	OnEvent func(LoadEvent)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Watcher keeps a Holder in step with a policy file: it polls the file's
// size, modification time and content hash, and on a change loads it. A
// file that does not validate is refused: the policy in force stays, the
// problem is logged with its file:line and kept for Status.
type Watcher struct {
	path   string
	holder *Holder
	opts   WatchOptions

	mu sync.Mutex
	// seen is the hash of the content last looked at (loaded or refused),
	// so an unchanged bad file is reported once, not at every tick.
	seen    [32]byte
	modTime time.Time
	size    int64
	// changed is the size and time of a change seen at the last look and
	// not loaded yet (see Check); changedSet says there is one.
	changedSize int64
	changedMod  time.Time
	changedSet  bool
	status      Status
}

// NewWatcher returns a Watcher of path for h. Call Load (or Reload) once
// before Run to put the file in force.
func NewWatcher(path string, h *Holder, opts WatchOptions) *Watcher {
	if opts.Interval <= 0 {
		opts.Interval = DefaultReloadInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Watcher{path: path, holder: h, opts: opts, status: Status{Path: path}}
}

// Reload reads the file now and puts it in force when it validates and
// differs from the policy in force. It returns the refusal (the old policy
// stays in force) or nil.
func (w *Watcher) Reload() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reload(true)
}

// reload does the work; force reports a file identical to the last one
// looked at again (an on-demand reload), otherwise it is skipped.
func (w *Watcher) reload(force bool) error {
	now := w.opts.Now().UTC()
	st, statErr := os.Stat(w.path)
	data, err := os.ReadFile(w.path)
	if err == nil && statErr != nil {
		err = statErr
	}
	prev := ""
	if p := w.holder.Current(); p != nil {
		prev = p.Ref
	}
	if err != nil {
		return w.refuse(now, prev, fmt.Errorf("policy: %w", err), force)
	}
	w.modTime, w.size = st.ModTime(), st.Size()
	sum := sha256.Sum256(data)
	if sum == w.seen && !force {
		return nil
	}
	w.seen = sum
	if Ref(w.path, data) == prev && prev != "" {
		// The file in force, touched or re-saved unchanged.
		w.status.Problem, w.status.ProblemAt = "", time.Time{}
		return nil
	}
	p, err := Parse(w.path, data)
	if err != nil {
		return w.refuse(now, prev, err, true)
	}
	w.holder.Swap(p)
	w.status = Status{Path: w.path, Ref: p.Ref, LoadedAt: now}
	w.opts.Logger.Info("policy loaded", "path", w.path, "ref", p.Ref, "previous", prev, "rules", len(p.rules), "actions", len(p.actions))
	w.emit(LoadEvent{Path: w.path, At: now, Ref: p.Ref, InForce: p.Ref, Previous: prev})
	return nil
}

func (w *Watcher) refuse(now time.Time, inForce string, err error, report bool) error {
	w.status.Problem, w.status.ProblemAt = err.Error(), now
	if report {
		w.opts.Logger.Error("policy file refused; the policy in force stays", "path", w.path, "in_force", inForce, "problems", err.Error())
		w.emit(LoadEvent{Path: w.path, At: now, InForce: inForce, Previous: inForce, Err: err})
	}
	return err
}

func (w *Watcher) emit(ev LoadEvent) {
	if w.opts.OnEvent != nil {
		w.opts.OnEvent(ev)
	}
}

// Check looks at the file once and reloads it when its size, time or
// content changed and has stayed so since the previous look: a change is
// loaded at the second look that sees it unchanged, one to two intervals
// after the save. A vanished file is reported at once.
func (w *Watcher) Check() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, err := os.Stat(w.path)
	if err != nil {
		// A vanished file is reported once, like a bad one.
		first := w.size != -1
		w.size, w.seen = -1, [32]byte{}
		prev := ""
		if p := w.holder.Current(); p != nil {
			prev = p.Ref
		}
		return w.refuse(w.opts.Now().UTC(), prev, fmt.Errorf("policy: %w", err), first)
	}
	if st.Size() == w.size && st.ModTime().Equal(w.modTime) {
		w.changedSet = false
		return nil
	}
	// Changed: loaded once it has stopped changing, the same size and
	// time at two looks in a row, so a file an editor is still writing
	// in place is not read half-way (a truncated file can be a valid,
	// different policy).
	if !w.changedSet || st.Size() != w.changedSize || !st.ModTime().Equal(w.changedMod) {
		w.changedSize, w.changedMod, w.changedSet = st.Size(), st.ModTime(), true
		return nil
	}
	w.changedSet = false
	return w.reload(false)
}

// Run checks the file every interval until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	t := time.NewTicker(w.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = w.Check()
		}
	}
}

// Status returns what is in force and the last refusal, if the file on
// disk is a refused one.
func (w *Watcher) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}
