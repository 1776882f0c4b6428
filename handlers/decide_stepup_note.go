package handlers

import (
	"strings"
	"time"

	"github.com/countersign/countersign/models/approval"
)

// stepUpNote tells an approver, before they decide, what deciding asks of
// their sign-in under rule: when the current one (su, from the session)
// satisfies it, until when it counts — a decision before then is
// recorded without signing in again, so the page must not promise a new
// sign-in; otherwise, that Approve or Deny first sends them to sign in
// again. The rule is the same one the decision is checked against.
func stepUpNote(rule approval.StepUpRule, su approval.StepUp, now time.Time) string {
	need := "a sign-in no older than " + durationWords(rule.MaxAge)
	if len(rule.ACR) > 0 {
		need += " of class " + strings.Join(rule.ACR, " or ")
	}
	if len(rule.AMRAny) > 0 {
		need += " using " + strings.Join(rule.AMRAny, " or ")
	}
	if rule.Check(su, now) == nil {
		until := rule.CountsUntil(su)
		return "Your current sign-in (at " + clockText(su.AuthTime, now) + ") counts for decisions on this request until " +
			clockText(until, now) + ": decide before then and your decision is recorded at once. This request asks for " + need +
			"; after " + clockText(until, now) + ", Approve or Deny first sends you to your identity provider to sign in again."
	}
	return "Approve or Deny first sends you to your identity provider to sign in again: this request asks for " + need +
		". Your decision is recorded when you come back, bound to the content hash above."
}

// clockText is a time of day in UTC, with the date when it is not today's.
func clockText(t, now time.Time) string {
	t, now = t.UTC(), now.UTC()
	if t.YearDay() == now.YearDay() && t.Year() == now.Year() {
		return t.Format("15:04:05 UTC")
	}
	return t.Format("2006-01-02 15:04:05 UTC")
}
