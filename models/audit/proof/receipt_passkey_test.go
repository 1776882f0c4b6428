package proof_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/audittest"
	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/models/passkey"
	"github.com/countersign/countersign/models/passkey/passkeytest"
)

var receiptRP = passkey.RP{ID: "portal.example", Origins: []string{"https://portal.example"}}

// passkeyWorld is a store with a passkey-signed decision by alice, and
// bob's enrolment, for receipts.
type passkeyWorld struct {
	decisionSeq, aliceEnrolSeq, bobEnrolSeq int64
	pks                                     *passkey.Service
	alice                                   models.Actor
	alicePK                                 *models.Passkey
	bobAuth                                 *passkeytest.Authenticator
}

func newPasskeyWorld(t testing.TB, s *models.Store) *passkeyWorld {
	t.Helper()
	ctx := context.Background()
	pks, err := passkey.New(s, passkey.Config{RP: receiptRP, Fresh: func(passkey.Auth, time.Time) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	svc := approval.New(s, approval.Config{ApproverRoles: []string{"approver"}, Passkeys: pks})
	w := &passkeyWorld{pks: pks, alice: models.Actor{Type: models.ActorHuman, ID: "sub-alice", Display: "alice"}}
	enrol := func(who models.Actor) (*passkeytest.Authenticator, *models.Passkey) {
		en, err := pks.BeginEnroll(ctx, who, passkey.Auth{})
		if err != nil {
			t.Fatal(err)
		}
		a := passkeytest.New(receiptRP.ID)
		pk, err := pks.FinishEnroll(ctx, who, passkey.Auth{}, en.ID, "key", a.Register(en.Options.Response.Challenge, receiptRP.Origins[0]))
		if err != nil {
			t.Fatal(err)
		}
		return a, pk
	}
	aliceAuth, alicePK := enrol(w.alice)
	w.alicePK = alicePK
	w.bobAuth, _ = enrol(models.Actor{Type: models.ActorHuman, ID: "sub-bob", Display: "bob"})
	r, err := svc.Create(ctx, approval.NewRequest{
		Kind: models.KindAction, Action: "restart", Params: map[string]any{"service": "api"}, Purpose: "INC-1",
		Requester: models.Actor{Type: models.ActorHuman, ID: "mm-carol", Display: "carol"}, TTL: time.Hour, RequiredApprovals: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	approver := approval.Approver{Actor: w.alice, Username: "alice", Roles: []string{"approver"}}
	ch, err := svc.PasskeyChallenge(ctx, approver, r.ID, models.VerdictApprove, "", r.ContentHash)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Decide(ctx, approval.Decision{RequestID: r.ID, Approver: approver, Verdict: models.VerdictApprove, ContentHash: r.ContentHash,
		Passkey: &passkey.Proof{Nonce: ch.Statement.Nonce, Assertion: aliceAuth.SignStatement(ch.Statement, receiptRP.Origins[0])}}); err != nil {
		t.Fatal(err)
	}
	for _, ev := range audittest.Events(t, s) {
		switch {
		case ev.Type == "decision.approve":
			w.decisionSeq = ev.Seq
		case ev.Type == "passkey.enrolled" && ev.ActorID == "sub-alice":
			w.aliceEnrolSeq = ev.Seq
		case ev.Type == "passkey.enrolled":
			w.bobEnrolSeq = ev.Seq
		}
	}
	return w
}

func TestPasskeyReceiptVerifiesOffline(t *testing.T) {
	audittest.EachCheckpointer(t, func(t *testing.T, s *models.Store, k *proof.Key, c *proof.Checkpointer) {
		ctx := context.Background()
		w := newPasskeyWorld(t, s)
		// Revoked after the decision: the decision still stands.
		if err := w.pks.Revoke(ctx, w.alice, passkey.Auth{}, w.alicePK.ID); err != nil {
			t.Fatal(err)
		}
		r, err := c.Receipt(ctx, w.decisionSeq)
		if err != nil {
			t.Fatal(err)
		}
		if r.Passkey == nil || r.Passkey.Enrollment.Event.Seq != w.aliceEnrolSeq || len(r.Passkey.Revocations) != 1 {
			t.Fatalf("passkey evidence %+v", r.Passkey)
		}
		data, _ := json.Marshal(r)
		parsed, err := proof.ParseReceipt(data)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyReceipt(parsed, k.VerifierKey()); err != nil {
			t.Fatalf("receipt does not verify: %v", err)
		}

		// Bob's enrolment, though in the log, is not the key that signed.
		bobs, err := c.Receipt(ctx, w.bobEnrolSeq)
		if err != nil {
			t.Fatal(err)
		}
		swapped := *parsed
		swapped.Passkey = &proof.PasskeyProof{Enrollment: proof.IncludedEvent{Event: bobs.Event, LeafIndex: bobs.LeafIndex, InclusionProof: bobs.InclusionProof}}
		wantPasskeyProblem(t, proof.VerifyReceipt(&swapped, k.VerifierKey()), "the enrolment (event")

		// Alice's enrolment with bob's public key put in: the event no
		// longer hashes to its hash; hashed again, it is not in the log
		// the checkpoint signs; a wrong place in the tree, or a revocation
		// altered, fails too.
		var alicePK, bobPK struct {
			PublicKey string `json:"public_key"`
		}
		_ = json.Unmarshal([]byte(parsed.Passkey.Enrollment.Event.Payload), &alicePK)
		_ = json.Unmarshal([]byte(bobs.Event.Payload), &bobPK)
		if alicePK.PublicKey == "" || bobPK.PublicKey == "" || alicePK.PublicKey == bobPK.PublicKey {
			t.Fatalf("enrolment events carry no distinct public keys: %q %q", alicePK.PublicKey, bobPK.PublicKey)
		}
		forged := func(edit func(*proof.PasskeyProof)) *proof.Receipt {
			r := *parsed
			pp := *parsed.Passkey
			pp.Revocations = append([]proof.IncludedEvent(nil), parsed.Passkey.Revocations...)
			edit(&pp)
			r.Passkey = &pp
			return &r
		}
		wantKind := func(name string, err error, kind audit.ProblemKind) {
			t.Helper()
			if p, ok := err.(*audit.Problem); !ok || p.Kind != kind {
				t.Fatalf("%s: %v, want a %s problem", name, err, kind)
			}
		}
		swapKey := func(pp *proof.PasskeyProof) {
			pp.Enrollment.Event.Payload = strings.Replace(pp.Enrollment.Event.Payload, alicePK.PublicKey, bobPK.PublicKey, 1)
		}
		wantKind("another key in the enrolment", proof.VerifyReceipt(forged(swapKey), k.VerifierKey()), audit.ProblemHash)
		wantKind("another key in the enrolment, hashed again", proof.VerifyReceipt(forged(func(pp *proof.PasskeyProof) {
			swapKey(pp)
			pp.Enrollment.Event.Hash = string(audit.NewHasher().Sum(pp.Enrollment.Event.Fields()))
		}), k.VerifierKey()), audit.ProblemProof)
		wantKind("the enrolment at another leaf", proof.VerifyReceipt(forged(func(pp *proof.PasskeyProof) { pp.Enrollment.LeafIndex++ }), k.VerifierKey()), audit.ProblemProof)
		wantKind("an altered revocation", proof.VerifyReceipt(forged(func(pp *proof.PasskeyProof) {
			pp.Revocations[0].Event.ActorDisplay += " (edited)"
		}), k.VerifierKey()), audit.ProblemHash)

		// Without the enrolment there is no key to check with.
		bare := *parsed
		bare.Passkey = nil
		wantPasskeyProblem(t, proof.VerifyReceipt(&bare, k.VerifierKey()), "lacks the passkey's enrolment")

		// A tampered statement breaks the event's hash.
		tampered := *parsed
		tampered.Event.Payload = strings.Replace(tampered.Event.Payload, "verdict: approve", "verdict: deny", 1)
		if p, ok := proof.VerifyReceipt(&tampered, k.VerifierKey()).(*audit.Problem); !ok || p.Kind != audit.ProblemHash {
			t.Fatalf("tampered statement: %v", p)
		}
	})
}

func TestCheckPasskeyDecisionNamesWhatFails(t *testing.T) {
	audittest.EachCheckpointer(t, func(t *testing.T, s *models.Store, k *proof.Key, c *proof.Checkpointer) {
		w := newPasskeyWorld(t, s)
		r, err := c.Receipt(context.Background(), w.decisionSeq)
		if err != nil {
			t.Fatal(err)
		}
		dec, en := r.Event, r.Passkey.Enrollment.Event
		if err := proof.CheckPasskeyDecision(&dec, &en, nil); err != nil {
			t.Fatalf("honest decision: %v", err)
		}
		other := passkeytest.New(receiptRP.ID)
		withStatement := func(f func(*passkey.Statement)) audit.Event {
			st, err := passkey.ParseStatement(payloadString(t, dec.Payload, "step_up", "passkey", "statement"))
			if err != nil {
				t.Fatal(err)
			}
			f(&st)
			text, _ := st.Canonical()
			return withPayload(t, dec, []string{"step_up", "passkey", "statement"}, string(text))
		}
		cases := []struct {
			name    string
			dec, en audit.Event
			revoked []audit.Event
			want    string
		}{
			{"another verdict", func() audit.Event { d := dec; d.Type = "decision.deny"; return d }(), en, nil, "the signed statement says approve, the decision is deny"},
			{"another content", withPayload(t, dec, []string{"content_hash"}, "sha256:"+strings.Repeat("0", 64)), en, nil, "the signed statement is for content"},
			{"another request", func() audit.Event { d := dec; d.RequestID = "REQ-OTHER"; return d }(), en, nil, "the signed statement is for request"},
			{"a statement the passkey did not sign", withStatement(func(s *passkey.Statement) { s.Nonce = "forged" }), en, nil, "signed a different decision statement"},
			{"a signature from another credential", dec, withPayload(t, en, []string{"public_key"}, other.PublicKey()), nil, "does not verify with the enrolled key"},
			{"another approver's enrolment", dec, func() audit.Event { e := en; e.ActorID = "sub-mallory"; return e }(), nil, "not by the approver"},
			{"revoked before the decision", dec, en, []audit.Event{{Seq: dec.Seq - 1, Type: "passkey.revoked", Payload: `{"credential_id":"` + w.alicePK.CredentialID + `"}`}}, "was revoked at event"},
			{"another relying party", dec, withPayload(t, en, []string{"rp_id"}, "evil.example"), nil, "not a site of relying party"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				wantPasskeyProblem(t, proof.CheckPasskeyDecision(&tc.dec, &tc.en, tc.revoked), tc.want)
			})
		}
	})
}

func wantPasskeyProblem(t *testing.T, err error, want string) {
	t.Helper()
	p, ok := err.(*audit.Problem)
	if !ok || p.Kind != audit.ProblemPasskey || !strings.Contains(p.Detail, want) {
		t.Fatalf("got %v, want a passkey problem saying %q", err, want)
	}
}

// withPayload returns ev with the payload value at path replaced.
func withPayload(t *testing.T, ev audit.Event, path []string, val string) audit.Event {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(ev.Payload), &m); err != nil {
		t.Fatal(err)
	}
	cur := m
	for _, k := range path[:len(path)-1] {
		cur = cur[k].(map[string]any)
	}
	cur[path[len(path)-1]] = val
	b, _ := json.Marshal(m)
	ev.Payload = string(b)
	return ev
}

func payloadString(t *testing.T, payload string, path ...string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		t.Fatal(err)
	}
	cur := m
	for _, k := range path[:len(path)-1] {
		cur = cur[k].(map[string]any)
	}
	return cur[path[len(path)-1]].(string)
}
