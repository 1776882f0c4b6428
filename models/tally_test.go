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

// TestVoidedAndApprovedByPolicy: approvals an edit voided are listed once
// per person who has not approved the new content; a request approved
// with fewer approvals than needed was approved by the policy.
func TestVoidedAndApprovedByPolicy(t *testing.T) {
	d := func(who string, v models.Verdict, hash string) models.Decision {
		return models.Decision{ApproverID: "sub-" + who, ApproverName: who, Verdict: v, ContentHash: hash}
	}
	r := &models.Request{ContentHash: "new", RequiredApprovals: 2, State: models.StatePending, Decisions: []models.Decision{
		d("alice", models.VerdictApprove, "old"),
		d("carol", models.VerdictApprove, "old"),
		d("carol", models.VerdictApprove, "older"), // twice voided, listed once
		d("bob", models.VerdictApprove, "new"),
		d("bob", models.VerdictApprove, "old"), // approved the new content too: not voided
		d("erin", models.VerdictDeny, "old"),
	}}
	voided := r.Voided()
	if len(voided) != 2 || voided[0].ApproverName != "alice" || voided[1].ApproverName != "carol" {
		t.Fatalf("voided %+v", voided)
	}
	if r.ApprovedByPolicy() {
		t.Fatal("a pending request approved by policy")
	}
	auto := &models.Request{ContentHash: "h", RequiredApprovals: 1, State: models.StateApproved}
	if !auto.ApprovedByPolicy() {
		t.Fatal("approved with 0 of 1 approvals: not by policy?")
	}
	human := &models.Request{ContentHash: "h", RequiredApprovals: 1, State: models.StateExecuted, Decisions: []models.Decision{d("bob", models.VerdictApprove, "h")}}
	expired := &models.Request{ContentHash: "h", RequiredApprovals: 1, State: models.StateExpired}
	if human.ApprovedByPolicy() || expired.ApprovedByPolicy() {
		t.Fatal("a human approval, or an expiry, read as approved by policy")
	}
}
