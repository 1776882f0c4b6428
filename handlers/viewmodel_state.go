package handlers

import (
	"fmt"
	"strings"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/templates/partials"
)

// stateLine is the one place that words where a request stands: every
// page and row that shows a request's state shows this sentence. It reads
// the tally (models.Request.Tally, ApprovedByPolicy) rather than the
// stored state alone, so an approved request whose grant ran out is not
// told apart from one nobody approved only by a badge, and a request the
// policy approved never reads "0 of 1 approvals". g is the request's
// grant, nil when there is none or it was not loaded (list rows); a
// countdown is shown only while something still counts down.
func stateLine(r *models.Request, g *grant.Grant, now time.Time) partials.StateLine {
	l := partials.StateLine{State: string(r.State)}
	t := r.Tally()
	progress := fmt.Sprintf("%d of %d", t.Approved(), r.RequiredApprovals)
	switch r.State {
	case models.StatePending:
		if !now.Before(r.ExpiresAt) {
			l.Stage = "timed-out"
			l.Text = fmt.Sprintf("Time ran out with %s approvals; it no longer takes decisions.", progress)
			return l
		}
		l.Stage = "waiting"
		l.Text = fmt.Sprintf("Waiting for approvals: %s so far.", progress)
		if m := missingText(r, t); m != "" {
			l.Text = fmt.Sprintf("Waiting for approvals: %s so far, %s.", progress, m)
		}
		l.Due, l.DueLabel = timeView(r.ExpiresAt, now), "time left to decide:"
	case models.StateApproved:
		how := approvedHow(r, t)
		switch {
		case g != nil && g.RedeemedAt != nil:
			l.Stage = "running"
			l.Text = how + "; " + redeemerWords(r, g.RedeemedBy) + " redeemed the grant and is running it."
		case g != nil && !now.Before(g.ExpiresAt):
			l.Stage = "grant-expired"
			l.Text = how + ", but the grant expired unused: nothing ran."
		case g != nil:
			l.Stage = stageApproved(r)
			l.Text = how + "; waiting for " + audienceWords(r, g.Audience) + " to run it."
			l.Due, l.DueLabel = timeView(g.ExpiresAt, now), "grant expires:"
		default:
			l.Stage = stageApproved(r)
			l.Text = how + "."
		}
	case models.StateExecuted:
		l.Stage = "executed"
		l.Text = "Executed. " + approvedHow(r, t) + "."
	case models.StateFailed:
		l.Stage = "failed"
		l.Text = approvedHow(r, t) + ", but the execution failed."
	case models.StateDenied:
		l.Stage = "denied"
		l.Text = "Denied"
		for _, d := range r.Decisions {
			if d.Verdict == models.VerdictDeny && r.Counts(&d) {
				l.Text += " by " + firstNonEmpty(d.ApproverName, d.ApproverID)
				if d.Comment != "" {
					l.Text += ": “" + truncate(d.Comment, 160) + "”"
				}
				break
			}
		}
		l.Text += "."
	case models.StateCancelled:
		l.Stage = "cancelled"
		l.Text = "Cancelled; it no longer takes decisions."
	case models.StateExpired:
		// A request expires twice over: waiting for approvals, or approved
		// with a grant nobody redeemed in time. The grant (or, without one
		// loaded, enough approvals) tells which.
		if g != nil || t.Approved() >= r.RequiredApprovals && r.RequiredApprovals > 0 {
			l.Stage = "grant-expired"
			l.Text = approvedHow(r, t) + ", but the grant expired unused: nothing ran."
		} else {
			l.Stage = "expired"
			l.Text = fmt.Sprintf("Expired waiting for approvals: %s came in time.", progress)
		}
	default:
		l.Stage = string(r.State)
		l.Text = string(r.State)
	}
	return l
}

// stageApproved tells a policy's own approval from people's.
func stageApproved(r *models.Request) string {
	if r.ApprovedByPolicy() {
		return "auto-approved"
	}
	return "approved"
}

// approvedHow says who approved: the policy's rule, or the people. An
// expired request only gets here when it had a grant, so too few
// approvals mean the policy approved it (ApprovedByPolicy does not look at
// expired requests).
func approvedHow(r *models.Request, t models.Tally) string {
	if r.ApprovedByPolicy() || (r.State == models.StateExpired && t.Approved() < r.RequiredApprovals) {
		if rule := ruleName(r); rule != "" {
			return "Approved automatically by rule " + rule
		}
		return "Approved automatically by the policy"
	}
	names := make([]string, len(t.Approvals))
	for i, d := range t.Approvals {
		names[i] = firstNonEmpty(d.ApproverName, d.ApproverID)
	}
	return fmt.Sprintf("Approved by %s (%d of %d)", strings.Join(names, ", "), t.Approved(), r.RequiredApprovals)
}

// ruleName is the policy rule that matched ("policy#rule" → "rule").
func ruleName(r *models.Request) string {
	if _, rule, ok := strings.Cut(r.PolicyRef, "#"); ok {
		return rule
	}
	return r.PolicyRef
}

// progressView is a request's approvals against what it needs.
func progressView(r *models.Request, t models.Tally) partials.Progress {
	return partials.Progress{
		Summary:  fmt.Sprintf("%d of %d approvals", t.Approved(), r.RequiredApprovals),
		Approved: t.Approved(), Required: r.RequiredApprovals,
		Missing: missingText(r, t),
	}
}

// missingText says how many more approvals a pending request needs and
// from which roles ("1 more from sre or security"); empty when none.
func missingText(r *models.Request, t models.Tally) string {
	n := r.RequiredApprovals - t.Approved()
	if n <= 0 || r.State != models.StatePending {
		return ""
	}
	return fmt.Sprintf("%d more from %s", n, rolesText(r.ApproverRoles))
}

// rolesText names the roles that may approve ("any of them").
func rolesText(roles []string) string {
	if len(roles) == 0 {
		return "any approver"
	}
	return strings.Join(roles, " or ")
}

// riskViews words r's risk flags (models.Request.Risks).
func riskViews(r *models.Request) []partials.Risk {
	k := r.Risks()
	var out []partials.Risk
	if k.Impersonations > 0 {
		out = append(out, partials.Risk{Kind: "impersonation", Label: "impersonation",
			Text: plural(k.Impersonations, "webhook post is", "webhook posts are") + " shown in chat under another person's name: the name proves nothing."})
	}
	if k.Edited > 0 {
		out = append(out, partials.Risk{Kind: "edited", Label: "edited after capture",
			Text: plural(k.Edited, "post was", "posts were") + " edited or deleted after the capture: chat no longer shows what approvers read here."})
	}
	if k.Production != "" {
		out = append(out, partials.Risk{Kind: "production", Label: "production",
			Text: "Production: " + k.Production + "."})
	}
	if k.Agent {
		text := "Asked by an agent, not a person"
		if r.SponsorName != "" {
			text += "; its sponsor is " + r.SponsorName
		}
		out = append(out, partials.Risk{Kind: "agent", Label: "agent", Text: text + "."})
	}
	return out
}

// plural is "1 thing is" or "3 things are".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
