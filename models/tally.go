package models

// Counts reports whether decision d counts for r: only decisions bound to
// the content r asks for now do (an edit or deletion in its conversation
// voids the earlier ones).
func (r *Request) Counts(d *Decision) bool { return d.ContentHash == r.ContentHash }

// Tally is what the decisions on a request's current content add up to.
// It is the one definition of "approvals so far": the approval service
// counts with it when it decides whether a request is approved, and every
// page, chat message and API answer shows it.
type Tally struct {
	// Approvals are the counting approvals, one per person (their first),
	// in the order they were made.
	Approvals []Decision
	// Denials counts the counting denials.
	Denials int
}

// Approved is the number of distinct people who approved the current
// content.
func (t Tally) Approved() int { return len(t.Approvals) }

// Voided are the approvals made on earlier content of the request that no
// longer count (an edit or deletion in its conversation changed what is
// asked), one per person who has not approved the current content since,
// in the order they were made.
func (r *Request) Voided() []Decision {
	counted := map[string]bool{}
	for _, d := range r.Tally().Approvals {
		counted[d.ApproverID] = true
	}
	var out []Decision
	for _, d := range r.Decisions {
		if d.Verdict == VerdictApprove && !r.Counts(&d) && !counted[d.ApproverID] {
			counted[d.ApproverID] = true
			out = append(out, d)
		}
	}
	return out
}

// ApprovedByPolicy reports whether r went ahead without the approvals it
// would otherwise need: the policy approved it on its own (an
// auto-approve rule), so "0 of 1 approvals" would misread it.
func (r *Request) ApprovedByPolicy() bool {
	switch r.State {
	case StateApproved, StateExecuted, StateFailed:
		return r.Tally().Approved() < r.RequiredApprovals
	}
	return false
}

// Tally adds up r.Decisions (which must be loaded, in order).
func (r *Request) Tally() Tally {
	var t Tally
	seen := map[string]bool{}
	for i := range r.Decisions {
		d := &r.Decisions[i]
		if !r.Counts(d) {
			continue
		}
		switch d.Verdict {
		case VerdictApprove:
			if !seen[d.ApproverID] {
				seen[d.ApproverID] = true
				t.Approvals = append(t.Approvals, *d)
			}
		case VerdictDeny:
			t.Denials++
		}
	}
	return t
}
