package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/models/passkey"
	"github.com/countersign/countersign/models/passkey/passkeytest"
	"github.com/countersign/countersign/models/storetest"
)

// TestVerifyReceiptOfAPasskeyDecision: `audit verify-receipt` checks a
// passkey-signed decision offline against the key its enrolment event
// recorded, and refuses the receipt when it names another credential's
// enrolment, saying so.
func TestVerifyReceiptOfAPasskeyDecision(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := storetest.OpenDSN(t, "sqlite:"+filepath.Join(dir, "cs.db"))
	rp := passkey.RP{ID: "cs.example.com", Origins: []string{"https://cs.example.com"}}
	pks, err := passkey.New(s, passkey.Config{RP: rp, Fresh: func(passkey.Auth, time.Time) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	svc := approval.New(s, approval.Config{ApproverRoles: []string{"approver"}, Passkeys: pks})
	enrol := func(who models.Actor) *passkeytest.Authenticator {
		en, err := pks.BeginEnroll(ctx, who, passkey.Auth{})
		if err != nil {
			t.Fatal(err)
		}
		a := passkeytest.New(rp.ID)
		if _, err := pks.FinishEnroll(ctx, who, passkey.Auth{}, en.ID, "key", a.Register(en.Options.Response.Challenge, rp.Origins[0])); err != nil {
			t.Fatal(err)
		}
		return a
	}
	alice := approval.Approver{Actor: models.Actor{Type: models.ActorHuman, ID: "sub-alice", Display: "alice"}, Username: "alice", Roles: []string{"approver"}}
	auth := enrol(alice.Actor)
	enrol(models.Actor{Type: models.ActorHuman, ID: "sub-bob", Display: "bob"}) // event 2
	r, err := svc.Create(ctx, approval.NewRequest{Kind: models.KindAction, Action: "restart", Params: map[string]any{"service": "api"}, Purpose: "INC-1",
		Requester: models.Actor{Type: models.ActorHuman, ID: "mm-carol", Display: "carol"}, TTL: time.Hour, RequiredApprovals: 1})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := svc.PasskeyChallenge(ctx, alice, r.ID, models.VerdictApprove, "", r.ContentHash)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Decide(ctx, approval.Decision{RequestID: r.ID, Approver: alice, Verdict: models.VerdictApprove, ContentHash: r.ContentHash,
		Passkey: &passkey.Proof{Nonce: ch.Statement.Nonce, Assertion: auth.SignStatement(ch.Statement, rp.Origins[0])}}); err != nil {
		t.Fatal(err)
	}
	k, err := proof.LoadOrCreateKey(dir, "cs.example.com/audit")
	if err != nil {
		t.Fatal(err)
	}
	cp, err := proof.NewCheckpointer(s, k)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := cp.Receipt(ctx, 4) // enrolled, enrolled, created, decision
	if err != nil {
		t.Fatal(err)
	}
	if rec.Event.Type != "decision.approve" {
		t.Fatalf("event 4 is %s", rec.Event.Type)
	}
	write := func(rec *proof.Receipt) string {
		b, _ := json.MarshalIndent(rec, "", "  ")
		f := filepath.Join(dir, "receipt.json")
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	code, out, _ := runCmd("audit", "verify-receipt", "--receipt", write(rec), "--key", k.VerifierKey())
	if code != exitOK || !strings.Contains(out, "signed with a passkey enrolled at event 1") {
		t.Fatalf("passkey receipt: exit %d %q", code, out)
	}
	bobs, err := cp.Receipt(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	rec.Passkey.Enrollment = proof.IncludedEvent{Event: bobs.Event, LeafIndex: bobs.LeafIndex, InclusionProof: bobs.InclusionProof}
	code, out, _ = runCmd("audit", "verify-receipt", "--receipt", write(rec), "--key", k.VerifierKey())
	if code != exitFailure || !strings.Contains(out, "INVALID: event 4: passkey: the decision was signed by credential") {
		t.Fatalf("receipt naming bob's passkey: exit %d %q", code, out)
	}
}
