package models_test

import (
	"testing"

	"github.com/countersign/countersign/models"
)

func TestTallyCountsOnlyTheCurrentContentEachPersonOnce(t *testing.T) {
	d := func(who string, v models.Verdict, hash string) models.Decision {
		return models.Decision{ApproverID: "sub-" + who, ApproverName: who, Verdict: v, ContentHash: hash}
	}
	r := &models.Request{ContentHash: "new", Decisions: []models.Decision{
		d("alice", models.VerdictApprove, "old"), // voided by the edit
		d("bob", models.VerdictApprove, "new"),
		d("alice", models.VerdictApprove, "new"),
		d("bob", models.VerdictApprove, "new"), // the same person twice counts once
		d("erin", models.VerdictDeny, "old"),
		d("dave", models.VerdictDeny, "new"),
	}}
	tl := r.Tally()
	if tl.Approved() != 2 || tl.Approvals[0].ApproverName != "bob" || tl.Approvals[1].ApproverName != "alice" || tl.Denials != 1 {
		t.Fatalf("tally %+v", tl)
	}
	if r.Counts(&r.Decisions[0]) || !r.Counts(&r.Decisions[1]) {
		t.Fatal("Counts disagrees with the content hash")
	}
	if (&models.Request{ContentHash: "x"}).Tally().Approved() != 0 {
		t.Fatal("no decisions, some approvals")
	}
}
