package handlers

import (
	"strings"
	"unicode"
)

// approvalPhrases are words and phrases people use in chat to say yes. A
// post containing one gets a "this text is not an approval" notice: the
// point is to catch the human habit of reading chat as consent, so the list
// errs on the side of warning. Matched case-insensitively on word
// boundaries ("unapproved" does not match "approved").
var approvalPhrases = []string{
	"approved", "approve it", "i approve", "approving",
	"lgtm", "sgtm", "looks good to me", "looks good",
	"go ahead", "good to go", "ship it", "green light", "greenlit",
	"signed off", "sign off", "sign-off",
	"+1", "ok to proceed", "okay to proceed", "cleared to proceed",
}

// approvalSymbols are emoji and marks read as "yes", matched anywhere,
// including Mattermost's text shortcodes.
var approvalSymbols = []string{
	"✅", "✔", "☑", "👍", "🆗", "🚢",
	":white_check_mark:", ":heavy_check_mark:", ":+1:", ":thumbsup:", ":ok:", ":ship:",
}

// claimsApproval reports whether a chat message reads like an approval.
// It is a hint for the reader, never a decision: nothing in chat approves.
func claimsApproval(msg string) bool {
	for _, s := range approvalSymbols {
		if strings.Contains(msg, s) {
			return true
		}
	}
	norm := " " + normalizeWords(msg) + " "
	for _, p := range normalizedPhrases {
		if strings.Contains(norm, p) {
			return true
		}
	}
	return false
}

// normalizedPhrases are approvalPhrases as claimsApproval compares them:
// normalised and padded with spaces, so they match whole words only.
var normalizedPhrases = func() []string {
	out := make([]string, len(approvalPhrases))
	for i, p := range approvalPhrases {
		out[i] = " " + normalizeWords(p) + " "
	}
	return out
}()

// normalizeWords lower-cases s and turns every run of characters that are
// not letters, digits or '+' into one space, so phrases match on word
// boundaries whatever the punctuation ("go-ahead!", "LGTM.").
func normalizeWords(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := true
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '+' {
			b.WriteRune(unicode.ToLower(r))
			space = false
			continue
		}
		if !space {
			b.WriteByte(' ')
			space = true
		}
	}
	return strings.TrimSpace(b.String())
}
