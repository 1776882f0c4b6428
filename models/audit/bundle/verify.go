package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/proof"
)

// Finding is one thing wrong in a bundle: what, at which event and line.
type Finding struct {
	// Kind says what is wrong.
	Kind audit.ProblemKind
	// Seq is the event concerned (for checkpoint findings, the checkpoint
	// size); 0 when none.
	Seq int64
	// Line is the bundle line (1-based); 0 when none.
	Line int64
	// Detail says how, with the values involved.
	Detail string
}

// String formats a finding for people: "hash mismatch at event 150, line
// 151: …".
func (f Finding) String() string {
	where := ""
	switch {
	case f.Seq > 0 && f.Line > 0:
		where = fmt.Sprintf(" at event %d, line %d", f.Seq, f.Line)
	case f.Line > 0:
		where = fmt.Sprintf(" at line %d", f.Line)
	case f.Seq > 0:
		where = fmt.Sprintf(" at event %d", f.Seq)
	}
	return f.Kind.Label() + where + ": " + f.Detail
}

// maxFindings bounds the findings kept per range (all are counted).
const maxFindings = 5

// RangeReport is the verdict on one range of events: those after the
// previous checkpoint line up to the checkpoint that closes the range, like
// one log file in `aws cloudtrail validate-logs`.
type RangeReport struct {
	// From and To are the first and last event of the range.
	From, To int64
	// Checkpoint is the size of the checkpoint closing the range; 0 when no
	// checkpoint closes it.
	Checkpoint int64
	// Findings are the first problems found (at most 5).
	Findings []Finding
	// Problems counts every problem found in the range.
	Problems int
}

// Valid reports whether the range verified.
func (r *RangeReport) Valid() bool { return r.Problems == 0 }

// Report is the outcome of checking a bundle.
type Report struct {
	// Format and Origin are what the header says.
	Format string
	Origin string
	// From and To are the event range the header announces.
	From, To int64
	// BundleKeys are the keys the bundle names (informational: only the
	// trusted keys decide).
	BundleKeys []string
	// TrustedKeys are the keys checkpoints were checked with, as
	// "<name>+<hash>".
	TrustedKeys []string
	// Events, Checkpoints and Lines count what was read.
	Events      int64
	Checkpoints int64
	Lines       int64
	// Bytes is the size of the bundle read (for throughput figures).
	Bytes  int64
	Ranges []RangeReport
	// Findings are problems not tied to one range: the header, the end
	// line, a bundle cut short between ranges.
	Findings []Finding
	// Problems counts every problem found.
	Problems int
}

// Valid reports whether the whole bundle verified.
func (r *Report) Valid() bool { return r.Problems == 0 }

// ValidRanges counts the ranges that verified.
func (r *Report) ValidRanges() int {
	n := 0
	for i := range r.Ranges {
		if r.Ranges[i].Valid() {
			n++
		}
	}
	return n
}

// WriteText prints the report for people: one line per range, VALID or
// INVALID with the reasons, then a summary line.
func (r *Report) WriteText(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Audit bundle %s of log %q, events %d–%d\n", r.Format, r.Origin, r.From, r.To)
	for _, k := range r.BundleKeys {
		fmt.Fprintf(&b, "Key named by the bundle: %s\n", k)
	}
	for _, k := range r.TrustedKeys {
		fmt.Fprintf(&b, "Checked with trusted key: %s\n", k)
	}
	for i := range r.Ranges {
		rg := &r.Ranges[i]
		cp := "no checkpoint"
		if rg.Checkpoint > 0 {
			cp = fmt.Sprintf("checkpoint %d", rg.Checkpoint)
		}
		what := fmt.Sprintf("Events %d–%d", rg.From, rg.To)
		switch {
		case rg.To >= rg.From:
		case rg.To < r.From:
			what = "Lines after the header, before any event"
		default:
			what = fmt.Sprintf("Lines after event %d, no events", rg.To)
		}
		if rg.Valid() {
			fmt.Fprintf(&b, "%s (%s): valid\n", what, cp)
			continue
		}
		fmt.Fprintf(&b, "%s (%s): INVALID\n", what, cp)
		for _, f := range rg.Findings {
			fmt.Fprintf(&b, "  %s\n", f)
		}
		if more := rg.Problems - len(rg.Findings); more > 0 {
			fmt.Fprintf(&b, "  (%d more problems in this range)\n", more)
		}
	}
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "Bundle INVALID: %s\n", f)
	}
	verdict := "VALID"
	if !r.Valid() {
		verdict = "INVALID"
	}
	fmt.Fprintf(&b, "Results: %d/%d ranges valid, %d events, %d checkpoints, %d %s: bundle %s\n",
		r.ValidRanges(), len(r.Ranges), r.Events, r.Checkpoints, r.Problems, plural(r.Problems, "problem"), verdict)
	_, err := w.Write(b.Bytes())
	return err
}

// Verify checks an audit bundle offline against trusted verifier
// keys (at least one; the keys a bundle names are not trusted). Each string
// may hold several keys separated by white space, such as the contents of a
// key file listing current and rotated keys. See Verifier.
func Verify(r io.Reader, vkeys ...string) (*Report, error) {
	return (&Verifier{Keys: vkeys}).Verify(r)
}

// Verifier checks bundles offline: no database, no network. For each
// range between checkpoints it recomputes every event hash from its fields
// and each chain link, recomputes the Merkle root at the checkpoint and
// compares it with the signed root, checks the checkpoint's signature with
// the trusted keys and its consistency with the previous checkpoint. A range
// that fails does not condemn the next: verification restarts from the
// failed checkpoint's signed compact range.
//
// Reading is streaming and memory is bounded (a few MiB of batches, plus one
// small RangeReport per checkpoint); event hashing runs on several cores.
type Verifier struct {
	// Keys are trusted verifier keys in signed-note format.
	Keys []string
	// Workers hash events in parallel; 0 means GOMAXPROCS.
	Workers int
}

// Sizes of the read pipeline.
const (
	bundleChunk   = 1 << 20
	maxBundleLine = 64 << 20
)

// errLineTooLong stops reading a bundle with an absurd line.
var errLineTooLong = fmt.Errorf("a line is longer than %d MiB", maxBundleLine>>20)

// Verify reads the whole bundle and reports what it found. The error is for
// unusable input (no trusted key, read failure); tampering is in the report.
func (v *Verifier) Verify(r io.Reader) (*Report, error) {
	keys, err := proof.NewTrustedKeys(v.Keys)
	if err != nil {
		return nil, err
	}
	workers := v.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	n := 2*workers + 2
	free := make(chan *lineBatch, n)
	for i := 0; i < n; i++ {
		free <- &lineBatch{buf: make([]byte, 0, bundleChunk)}
	}
	work := make(chan *lineBatch, n)
	order := make(chan *lineBatch, n)
	go readBatches(r, free, work, order)
	for i := 0; i < workers; i++ {
		go func() {
			w := &lineWorker{keys: keys, x: audit.NewHasher()}
			for b := range work {
				w.batch(b)
				close(b.done)
			}
		}()
	}
	s := &bundleCheck{keys: keys, rep: &Report{TrustedKeys: keys.Names()}}
	var readErr error
	for b := range order {
		<-b.done
		s.batch(b)
		if b.err != nil && readErr == nil {
			readErr = b.err
		}
		if cap(b.buf) > 4*bundleChunk {
			b.buf = make([]byte, 0, bundleChunk)
		}
		free <- b
	}
	if readErr != nil {
		if errors.Is(readErr, errLineTooLong) {
			s.fatal(0, audit.ProblemMalformed, fmt.Sprintf("after line %d: %v", s.line, readErr))
		} else {
			return nil, fmt.Errorf("audit bundle: read: %w", readErr)
		}
	}
	s.finish()
	return s.rep, nil
}

// lineBatch is a run of whole lines read from the bundle and what the
// workers made of them.
type lineBatch struct {
	buf  []byte
	res  []lineResult
	noNL bool  // the last line is the end of input without a newline
	err  error // read error after these lines
	done chan struct{}
}

// readBatches cuts the input into batches of whole lines and hands each to
// the workers and, in order, to the checker; it recycles batches from free,
// which bounds memory.
func readBatches(r io.Reader, free <-chan *lineBatch, work, order chan<- *lineBatch) {
	defer close(work)
	defer close(order)
	var carry []byte
	for eof := false; !eof; {
		b := <-free
		b.buf = append(b.buf[:0], carry...)
		b.noNL, b.err, b.res = false, nil, b.res[:0]
		for {
			if cap(b.buf)-len(b.buf) < bundleChunk/2 {
				grown := make([]byte, len(b.buf), len(b.buf)+bundleChunk)
				copy(grown, b.buf)
				b.buf = grown
			}
			n, err := io.ReadFull(r, b.buf[len(b.buf):cap(b.buf)])
			b.buf = b.buf[:len(b.buf)+n]
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				eof = true
			} else if err != nil {
				b.err, eof = err, true
			}
			if eof {
				carry = carry[:0]
				b.noNL = len(b.buf) > 0 && b.buf[len(b.buf)-1] != '\n'
				break
			}
			if nl := bytes.LastIndexByte(b.buf, '\n'); nl >= 0 {
				carry = append(carry[:0], b.buf[nl+1:]...)
				b.buf = b.buf[:nl+1]
				break
			}
			if len(b.buf) >= maxBundleLine {
				b.err, eof = errLineTooLong, true
				b.buf = b.buf[:0]
				break
			}
		}
		b.done = make(chan struct{})
		order <- b
		work <- b
	}
}

// lineKind classifies a bundle line.
type lineKind uint8

const (
	lineBlank lineKind = iota
	lineEvent
	lineHeader
	lineCheckpoint
	lineEnd
	lineBad
)

// lineResult is what a worker found on one line. Good event lines carry no
// pointer, so a batch of them costs no allocation.
type lineResult struct {
	kind      lineKind
	contentOK bool // the fields hash to the stated hash
	prevOK    bool // prev_hash is 64 hex digits
	seq       int64
	hash      [proof.HashSize]byte // stated hash
	prev      [proof.HashSize]byte // stated previous hash
	leaf      [proof.HashSize]byte // leaf hash of the stated hash
	x         *lineExtra
}

// lineExtra holds what rare lines need.
type lineExtra struct {
	err      string // lineBad
	wasCP    bool   // lineBad that claimed to be a checkpoint
	computed string // event whose contents do not match its hash
	header   *bundleHeader
	cp       *bundleCheckpoint
	opened   *proof.Checkpoint
	problem  *audit.Problem
	end      *bundleEnd
}

// lineWorker parses and hashes lines; one per goroutine.
type lineWorker struct {
	keys *proof.TrustedKeys
	p    audit.EventParser
	x    *audit.Hasher
}

func (w *lineWorker) batch(b *lineBatch) {
	buf := b.buf
	for len(buf) > 0 {
		var line []byte
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			line, buf = buf[:i], buf[i+1:]
		} else {
			line, buf = buf, nil
		}
		b.res = append(b.res, lineResult{})
		w.line(line, &b.res[len(b.res)-1])
	}
}

func (w *lineWorker) line(line []byte, r *lineResult) {
	if bytes.HasPrefix(line, []byte(audit.EventLinePrefix)) {
		w.event(line, r)
		return
	}
	if len(bytes.TrimSpace(line)) == 0 {
		r.kind = lineBlank
		return
	}
	var probe struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(line, &probe); err != nil {
		r.kind, r.x = lineBad, &lineExtra{err: "not a JSON object: " + err.Error()}
		return
	}
	var err error
	switch probe.Kind {
	case "event":
		w.event(line, r)
		return
	case "header":
		h := &bundleHeader{}
		if err = audit.StrictJSON(line, h); err == nil {
			r.kind, r.x = lineHeader, &lineExtra{header: h}
			return
		}
	case "checkpoint":
		c := &bundleCheckpoint{}
		if err = audit.StrictJSON(line, c); err == nil {
			cp, p := w.keys.Open([]byte(c.Note))
			r.kind, r.x = lineCheckpoint, &lineExtra{cp: c, opened: cp, problem: p}
			return
		}
	case "end":
		e := &bundleEnd{}
		if err = audit.StrictJSON(line, e); err == nil {
			r.kind, r.x = lineEnd, &lineExtra{end: e}
			return
		}
	default:
		r.kind, r.x = lineBad, &lineExtra{err: fmt.Sprintf("unknown line kind %q", probe.Kind)}
		return
	}
	r.kind, r.x = lineBad, &lineExtra{err: probe.Kind + " line: " + err.Error(), wasCP: probe.Kind == "checkpoint"}
}

// event parses and hashes an event line: the hot path.
func (w *lineWorker) event(line []byte, r *lineResult) {
	if err := w.p.Parse(line); err != nil {
		r.kind, r.x = lineBad, &lineExtra{err: err.Error()}
		return
	}
	sum := w.x.Sum(w.p.Fields())
	if r.contentOK = bytes.Equal(sum, w.p.Hash()); r.contentOK {
		r.hash = *w.x.Raw() // the stated hash, already raw
	} else if !proof.DecodeHash(&r.hash, w.p.Hash()) {
		r.kind, r.x = lineBad, &lineExtra{err: fmt.Sprintf("event %d: hash is not 64 hex digits", w.p.Fields().Seq)}
		return
	} else {
		r.x = &lineExtra{computed: string(sum)}
	}
	r.kind, r.seq = lineEvent, w.p.Fields().Seq
	r.prevOK = proof.DecodeHash(&r.prev, w.p.Fields().PrevHash)
	proof.LeafHashOf(&r.leaf, &r.hash)
}

// bundleCheck is the in-order part of verification: sequence, links, tree,
// checkpoints, ranges.
type bundleCheck struct {
	keys   *proof.TrustedKeys
	rep    *Report
	line   int64
	header *bundleHeader
	dead   bool // nothing more can be checked
	ended  bool

	acc    proof.Acc
	accOK  bool // acc holds the tree of the events so far
	next   int64
	last   [proof.HashSize]byte // stated hash of the latest event in order
	cur    *RangeReport
	prevCP *proof.Checkpoint // previous checkpoint with a trusted signature
	lastCP int64             // size of the previous checkpoint line
}

func (s *bundleCheck) batch(b *lineBatch) {
	for i := range b.res {
		s.line++
		if s.dead {
			continue
		}
		s.result(&b.res[i], b.noNL && i == len(b.res)-1)
	}
	s.rep.Lines = s.line
	s.rep.Bytes += int64(len(b.buf))
}

// find records a problem in the open range (or the bundle when none).
func (s *bundleCheck) find(kind audit.ProblemKind, seq int64, detail string) {
	f := Finding{Kind: kind, Seq: seq, Line: s.line, Detail: detail}
	s.rep.Problems++
	if s.cur == nil {
		s.rep.Findings = append(s.rep.Findings, f)
		return
	}
	s.cur.Problems++
	if len(s.cur.Findings) < maxFindings {
		s.cur.Findings = append(s.cur.Findings, f)
	}
}

// fatal records a problem that stops verification.
func (s *bundleCheck) fatal(seq int64, kind audit.ProblemKind, detail string) {
	s.rep.Problems++
	s.rep.Findings = append(s.rep.Findings, Finding{Kind: kind, Seq: seq, Line: s.line, Detail: detail + "; nothing after it was checked"})
	s.dead = true
}

func (s *bundleCheck) result(r *lineResult, incomplete bool) {
	if r.kind == lineBlank {
		return
	}
	if s.header == nil && r.kind != lineHeader {
		what := "an event"
		switch r.kind {
		case lineBad:
			what = "unreadable: " + r.x.err
		case lineCheckpoint:
			what = "a checkpoint"
		case lineEnd:
			what = "an end line"
		}
		s.fatal(0, audit.ProblemMalformed, "the first line must be the bundle header; it is "+what)
		return
	}
	if s.ended {
		s.find(audit.ProblemMalformed, 0, "data after the end line")
		return
	}
	switch r.kind {
	case lineBad:
		if incomplete {
			s.find(audit.ProblemTruncated, 0, fmt.Sprintf("the last line is cut off (%s)", r.x.err))
			return
		}
		s.find(audit.ProblemMalformed, 0, r.x.err)
		if r.x.wasCP {
			// The next checkpoint's consistency proof starts from this
			// one, which cannot be read.
			s.prevCP = nil
		}
	case lineHeader:
		if s.header != nil {
			s.find(audit.ProblemMalformed, 0, "a second header")
			return
		}
		s.startHeader(r.x.header)
	case lineEvent:
		s.event(r)
	case lineCheckpoint:
		s.checkpoint(r.x)
	case lineEnd:
		s.end(r.x.end)
	}
}

func (s *bundleCheck) startHeader(h *bundleHeader) {
	rep := s.rep
	rep.Format, rep.Origin, rep.From, rep.To, rep.BundleKeys = h.Format, h.Origin, h.From, h.To, h.Keys
	switch {
	case h.Format != Format:
		s.fatal(0, audit.ProblemMalformed, fmt.Sprintf("bundle format %q is not %q", h.Format, Format))
		return
	case proof.ValidOrigin(h.Origin) != nil:
		s.fatal(0, audit.ProblemMalformed, fmt.Sprintf("origin %q is not valid", h.Origin))
		return
	case h.From < 1 || h.To < h.From:
		s.fatal(0, audit.ProblemMalformed, fmt.Sprintf("event range %d–%d is empty or invalid", h.From, h.To))
		return
	case !proof.DecodeHash(&s.last, []byte(h.PrevHash)) || (h.From == 1 && h.PrevHash != audit.GenesisHash):
		s.fatal(0, audit.ProblemMalformed, fmt.Sprintf("previous hash %.16q… is not the hash before event %d", h.PrevHash, h.From))
		return
	}
	s.header = h
	s.next = h.From
	s.cur = &RangeReport{From: h.From}
	if err := s.acc.Set(uint64(h.From-1), h.Left); err != nil {
		s.find(audit.ProblemMalformed, 0, "left edge: "+err.Error())
		s.acc.Reset(uint64(h.From - 1))
		return
	}
	s.accOK = true
}

func (s *bundleCheck) event(r *lineResult) {
	s.rep.Events++
	h := s.header
	switch {
	case r.seq > h.To || r.seq < h.From:
		s.find(audit.ProblemSequence, r.seq, fmt.Sprintf("event %d is outside the bundle's range %d–%d", r.seq, h.From, h.To))
	case r.seq < s.next:
		s.find(audit.ProblemSequence, r.seq, fmt.Sprintf("event %d is out of order (after event %d) or repeated", r.seq, s.next-1))
	case r.seq > s.next:
		s.find(audit.ProblemSequence, r.seq, fmt.Sprintf("expected event %d, found %d: events are missing or reordered", s.next, r.seq))
	case !r.prevOK || r.prev != s.last:
		s.find(audit.ProblemLink, r.seq, fmt.Sprintf("previous hash %x… does not match event %d (%x…)", r.prev[:8], r.seq-1, s.last[:8]))
	case !r.contentOK:
		s.find(audit.ProblemHash, r.seq, fmt.Sprintf("the event's contents hash to %.16s…, the line says %x…", r.x.computed, r.hash[:8]))
	}
	if r.seq >= s.next {
		s.next, s.last = r.seq+1, r.hash
	}
	s.acc.Add(&r.leaf)
}

func (s *bundleCheck) checkpoint(x *lineExtra) {
	s.rep.Checkpoints++
	line, cp, h := x.cp, x.opened, s.header
	if x.problem != nil {
		s.find(x.problem.Kind, line.Size, x.problem.Detail)
	}
	if cp == nil {
		// Nothing readable to check against. The tree of the events read
		// so far stays: the next signed root checks it.
		s.prevCP = nil
		s.closeRange(line.Size)
		return
	}
	sigOK := x.problem == nil
	switch {
	case cp.Size != line.Size:
		s.find(audit.ProblemMalformed, line.Size, fmt.Sprintf("the line says size %d, its note says %d", line.Size, cp.Size))
	case cp.Origin != h.Origin:
		s.find(audit.ProblemUnknownKey, cp.Size, fmt.Sprintf("checkpoint of log %q in a bundle of %q", cp.Origin, h.Origin))
		sigOK = false
	case cp.Size <= s.lastCP:
		s.find(audit.ProblemSequence, cp.Size, fmt.Sprintf("checkpoint %d repeats or goes back (previous %d)", cp.Size, s.lastCP))
	}
	s.lastCP = max(s.lastCP, cp.Size)
	anchor := cp.Size > h.To
	posOK := true
	if !anchor && s.acc.Size() != uint64(cp.Size) {
		s.find(audit.ProblemSequence, cp.Size, fmt.Sprintf("checkpoint %d comes after %d events: events are missing, extra or reordered", cp.Size, s.acc.Size()))
		posOK = false
	}
	if anchor && s.next-1 != h.To {
		s.find(audit.ProblemSequence, cp.Size, fmt.Sprintf("the anchor checkpoint %d comes after event %d, before the last event %d", cp.Size, s.next-1, h.To))
		posOK = false
	}
	switch {
	case posOK && s.accOK:
		got, err := s.rootFor(cp.Size, anchor, line.Right)
		if err != nil {
			s.find(audit.ProblemMalformed, cp.Size, err.Error())
		} else if !bytes.Equal(got, cp.Root) {
			s.find(audit.ProblemRoot, cp.Size, fmt.Sprintf("the events up to %d do not hash to the root of checkpoint %d (computed %x…, signed %x…)",
				min(cp.Size, h.To), cp.Size, got[:8], cp.Root[:8]))
		}
	case posOK:
		s.find(audit.ProblemRoot, cp.Size, fmt.Sprintf("the root of checkpoint %d cannot be recomputed after the failure before it", cp.Size))
	}
	compactOK := false
	if r, err := proof.CompactRoot(uint64(cp.Size), line.Compact); err != nil {
		s.find(audit.ProblemMalformed, cp.Size, "compact range: "+err.Error())
	} else if !bytes.Equal(r, cp.Root) {
		s.find(audit.ProblemMalformed, cp.Size, fmt.Sprintf("the compact range of checkpoint %d does not hash to its root", cp.Size))
	} else {
		compactOK = true
	}
	// After a trusted checkpoint the next range starts from its signed
	// compact range, so one bad range does not condemn the next. Without
	// one, the tree of the events read so far goes on (the next signed
	// root checks it) unless it no longer matches the positions.
	switch {
	case sigOK && compactOK:
		_ = s.acc.Set(uint64(cp.Size), line.Compact)
		s.accOK = true
	case !posOK:
		s.accOK = false
	}
	if s.prevCP != nil && sigOK {
		if len(line.Consistency) == 0 {
			s.find(audit.ProblemConsistency, cp.Size, fmt.Sprintf("no consistency proof from checkpoint %d", s.prevCP.Size))
		} else if err := proof.VerifyConsistency(s.prevCP, cp, line.Consistency); err != nil {
			var p *audit.Problem
			if errors.As(err, &p) {
				s.find(p.Kind, cp.Size, p.Detail)
			}
		}
	}
	if sigOK {
		s.prevCP = cp
	} else {
		s.prevCP = nil
	}
	s.closeRange(cp.Size)
}

// rootFor computes the root at size from the events read; for the anchor,
// by joining the compact range of the bundle's events with the right edge.
func (s *bundleCheck) rootFor(size int64, anchor bool, right [][]byte) ([]byte, error) {
	if !anchor {
		r := s.acc.Root()
		return r[:], nil
	}
	f := proof.RangeFactory()
	left, err := f.NewRange(0, s.acc.Size(), s.acc.Hashes())
	if err != nil {
		return nil, err
	}
	rr, err := f.NewRange(s.acc.Size(), uint64(size), right)
	if err != nil {
		return nil, fmt.Errorf("right edge to checkpoint %d: %w", size, err)
	}
	for _, h := range right {
		if len(h) != proof.HashSize {
			return nil, fmt.Errorf("right edge to checkpoint %d: a hash is %d bytes", size, len(h))
		}
	}
	if err := left.AppendRange(rr, nil); err != nil {
		return nil, fmt.Errorf("right edge to checkpoint %d: %w", size, err)
	}
	return left.GetRootHash(nil)
}

// closeRange ends the open range at the checkpoint of size.
func (s *bundleCheck) closeRange(size int64) {
	s.cur.To, s.cur.Checkpoint = min(s.next-1, s.header.To), size
	s.rep.Ranges = append(s.rep.Ranges, *s.cur)
	s.cur = &RangeReport{From: s.next}
}

func (s *bundleCheck) end(e *bundleEnd) {
	s.ended = true
	s.closeTail(audit.ProblemUncovered, "no signed checkpoint covers these events")
	// The count is the bundle's, not the tail range's (which may be empty
	// and so not reported): recorded after closeTail, among the bundle's
	// own findings.
	if e.Events != s.rep.Events || e.Checkpoints != s.rep.Checkpoints {
		s.find(audit.ProblemSequence, 0, fmt.Sprintf("the end line counts %d events and %d checkpoints, the bundle has %d and %d",
			e.Events, e.Checkpoints, s.rep.Events, s.rep.Checkpoints))
	}
}

// closeTail ends verification at the end line or the end of input: events
// after the last checkpoint are reported, as is a bundle short of To.
func (s *bundleCheck) closeTail(kind audit.ProblemKind, why string) {
	switch {
	case s.cur.From <= s.next-1:
		s.find(kind, s.next-1, why)
		s.cur.To = s.next - 1
		s.rep.Ranges = append(s.rep.Ranges, *s.cur)
	case s.cur.Problems > 0:
		// No events after the last checkpoint, but bad lines: kept as a
		// range without events, or the problems it counts would be shown
		// nowhere.
		s.cur.To = s.next - 1
		s.rep.Ranges = append(s.rep.Ranges, *s.cur)
	}
	s.cur = nil
	if s.next-1 < s.header.To {
		s.find(audit.ProblemTruncated, s.next-1, fmt.Sprintf("events stop at %d, the header announces events up to %d", s.next-1, s.header.To))
	}
}

// finish handles the end of input.
func (s *bundleCheck) finish() {
	switch {
	case s.dead || s.ended:
	case s.header == nil:
		s.fatal(0, audit.ProblemTruncated, "the bundle is empty")
	default:
		why := fmt.Sprintf("the bundle ends at line %d without its end line", s.line)
		before := s.rep.Problems
		s.closeTail(audit.ProblemTruncated, why)
		if s.rep.Problems == before {
			s.find(audit.ProblemTruncated, 0, why)
		}
	}
}

// plural returns word for one, word+"s" otherwise.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
