package handlers

import (
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models/approval"
)

// TestStepUpNote: a sign-in that still satisfies the rule is said to count
// until auth time + max age (no promise of a new sign-in before then); one
// that does not is said to lead to a new sign-in, with what is asked.
func TestStepUpNote(t *testing.T) {
	auth := time.Date(2026, 3, 1, 14, 2, 0, 0, time.UTC)
	rule := approval.StepUpRule{MaxAge: 5 * time.Minute, ACR: []string{"mfa"}}
	fresh := approval.StepUp{AuthTime: auth, ACR: "mfa"}

	note := stepUpNote(rule, fresh, auth.Add(time.Minute))
	for _, want := range []string{"at 14:02:00 UTC", "until 14:07:00 UTC", "recorded at once", "no older than 5 min of class mfa"} {
		if !strings.Contains(note, want) {
			t.Errorf("fresh sign-in note %q lacks %q", note, want)
		}
	}
	if strings.HasPrefix(note, "Approve or Deny first sends you") {
		t.Errorf("fresh sign-in note promises a new sign-in: %q", note)
	}
	for name, su := range map[string]approval.StepUp{
		"stale": fresh,
		"weak":  {AuthTime: auth, ACR: "pwd"},
	} {
		now := auth.Add(time.Minute)
		if name == "stale" {
			now = auth.Add(time.Hour)
		}
		note := stepUpNote(rule, su, now)
		if !strings.HasPrefix(note, "Approve or Deny first sends you to your identity provider to sign in again") || strings.Contains(note, "until") {
			t.Errorf("%s sign-in note %q", name, note)
		}
	}
}
