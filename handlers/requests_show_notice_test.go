package handlers

import (
	"testing"

	"github.com/countersign/countersign/models"
)

func TestDecidedNoticeOnlyForOwnRecordedDecision(t *testing.T) {
	r := &models.Request{Decisions: []models.Decision{
		{ApproverID: "sub-alice", Verdict: models.VerdictApprove},
		{ApproverID: "sub-bob", Verdict: models.VerdictDeny},
	}}
	cases := []struct {
		verdict, subject string
		want             bool
	}{
		{"approve", "sub-alice", true},
		{"deny", "sub-bob", true},
		{"deny", "sub-alice", false},    // alice approved; a crafted ?decided=deny shows nothing
		{"approve", "sub-carol", false}, // carol decided nothing
		{"", "sub-alice", false},
		{"<script>", "sub-alice", false},
	}
	for _, c := range cases {
		if got := decidedNotice(c.verdict, r, c.subject) != ""; got != c.want {
			t.Errorf("decidedNotice(%q, %s) shown=%v, want %v", c.verdict, c.subject, got, c.want)
		}
	}
}
