package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/web/mattermost/notify"
)

// TestMessagesSayWhatHappened: an auto-approved request does not read
// "0 of 1"; after an edit the approvals it voided are named; deciders are
// named by their chat username (mention broken), or their display name
// when the portal did not know it.
func TestMessagesSayWhatHappened(t *testing.T) {
	rn := notify.Renderer{PublicURL: "https://cs.example.com"}
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	auto := &models.Request{ID: "REQ-AUTO", State: models.StateApproved, RequiredApprovals: 1, Action: "restart", RequesterName: "carol", ContentHash: "h"}
	if msg := rn.RequestText(auto); !strings.Contains(msg, "**Approvals:** none needed — approved by policy") || strings.Contains(msg, "0 of 1") {
		t.Errorf("auto-approved request message:\n%s", msg)
	}

	alice := models.Decision{ApproverID: "sub-a", ApproverName: "Alice Approver (SRE)", ApproverUsername: "alice", Verdict: models.VerdictApprove, ContentHash: "old", CreatedAt: at}
	bob := models.Decision{ApproverID: "sub-b", ApproverName: "Bob B.", Verdict: models.VerdictApprove, ContentHash: "new", CreatedAt: at}
	edited := &models.Request{ID: "REQ-EDIT", State: models.StatePending, RequiredApprovals: 2, ContentHash: "new", Decisions: []models.Decision{alice, bob}}
	reply := rn.DecisionReply(edited, &bob)
	for _, want := range []string{"**Bob B\\.** approved REQ-EDIT", "Approvals: 1 of 2 (@\u200balice approved earlier content, changed since: no longer counted)"} {
		if !strings.Contains(reply, want) {
			t.Errorf("decision reply lacks %q:\n%s", want, reply)
		}
	}
	if strings.Contains(reply, "Alice Approver") {
		t.Errorf("a decider named by display name although the chat username is known:\n%s", reply)
	}
}
