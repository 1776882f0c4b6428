package approval_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit/audittest"
	"github.com/countersign/countersign/models/passkey"
	"github.com/countersign/countersign/models/passkey/passkeytest"
	"github.com/countersign/countersign/models/storetest"
)

var testRP = passkey.RP{ID: "portal.example", Origins: []string{"https://portal.example"}}

// pkEnv is a store with an approval service that accepts passkeys.
type pkEnv struct {
	s   *models.Store
	svc *approval.Service
	pks *passkey.Service
}

func newPKEnv(t *testing.T, s *models.Store) *pkEnv {
	t.Helper()
	pks, err := passkey.New(s, passkey.Config{RP: testRP, Fresh: func(passkey.Auth, time.Time) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return &pkEnv{s: s, pks: pks, svc: newSvc(s, approval.Config{Passkeys: pks})}
}

// enroll registers a fresh software authenticator for a.
func (e *pkEnv) enroll(t *testing.T, a approval.Approver) (*passkeytest.Authenticator, *models.Passkey) {
	t.Helper()
	ctx := context.Background()
	en, err := e.pks.BeginEnroll(ctx, a.Actor, passkey.Auth{Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	auth := passkeytest.New(testRP.ID)
	pk, err := e.pks.FinishEnroll(ctx, a.Actor, passkey.Auth{Time: time.Now()}, en.ID, "laptop", auth.Register(en.Options.Response.Challenge, testRP.Origins[0]))
	if err != nil {
		t.Fatal(err)
	}
	return auth, pk
}

// sign asks for a challenge for verdict on r and signs its statement.
func (e *pkEnv) sign(t *testing.T, r *models.Request, a approval.Approver, v models.Verdict, auth *passkeytest.Authenticator) *passkey.Proof {
	t.Helper()
	ch, err := e.svc.PasskeyChallenge(context.Background(), a, r.ID, v, "reason", r.ContentHash)
	if err != nil {
		t.Fatal(err)
	}
	return &passkey.Proof{Nonce: ch.Statement.Nonce, Assertion: auth.SignStatement(ch.Statement, testRP.Origins[0])}
}

func (e *pkEnv) decide(r *models.Request, a approval.Approver, v models.Verdict, p *passkey.Proof) (*approval.Outcome, error) {
	return e.svc.Decide(context.Background(), approval.Decision{RequestID: r.ID, Approver: a, Verdict: v, Comment: "reason", ContentHash: r.ContentHash, Passkey: p})
}

func (e *pkEnv) request(t *testing.T) *models.Request {
	t.Helper()
	r, err := e.svc.Create(context.Background(), humanRequest())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPasskeySignedDecisionIsStoredAndAudited(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		e := newPKEnv(t, s)
		auth, pk := e.enroll(t, aliceA)
		r := e.request(t)
		p := e.sign(t, r, aliceA, models.VerdictApprove, auth)
		out, err := e.decide(r, aliceA, models.VerdictApprove, p)
		if err != nil {
			t.Fatal(err)
		}
		d := out.Decision
		if d.PasskeyCredentialID != pk.CredentialID || d.PasskeySignature != p.Assertion.Signature || d.AMR != "passkey" || d.PasswordOnly {
			t.Fatalf("decision evidence: %+v", d)
		}
		st, err := passkey.ParseStatement(d.PasskeyStatement)
		if err != nil || st.RequestID != r.ID || st.ContentHash != r.ContentHash || st.Verdict != "approve" || st.Approver != aliceA.Actor.ID || st.Nonce != p.Nonce {
			t.Fatalf("statement %+v %v", st, err)
		}
		evs := audittest.Events(t, s)
		types := audittest.Types(evs)
		if !slices.Contains(types, "passkey.enrolled") || !slices.Contains(types, "decision.approve") {
			t.Fatalf("events %v", types)
		}
		var enrolled, decided map[string]any
		for _, ev := range evs {
			switch ev.Type {
			case "passkey.enrolled":
				_ = json.Unmarshal([]byte(ev.Payload), &enrolled)
			case "decision.approve":
				_ = json.Unmarshal([]byte(ev.Payload), &decided)
			}
		}
		if enrolled["public_key"] != auth.PublicKey() || enrolled["credential_id"] != pk.CredentialID {
			t.Fatalf("enrolment payload %v", enrolled)
		}
		su, _ := decided["step_up"].(map[string]any)
		pkp, _ := su["passkey"].(map[string]any)
		if su["method"] != "passkey" || pkp["signature"] != p.Assertion.Signature || pkp["statement"] != d.PasskeyStatement {
			t.Fatalf("decision payload %v", decided)
		}
		// The audit log alone checks the signature.
		if _, err := passkey.Verify(st, p.Assertion, enrolled["public_key"].(string), testRP); err != nil {
			t.Fatalf("verify from the log: %v", err)
		}
	})
}

func TestPasskeyAttacksAreRefused(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		e := newPKEnv(t, s)
		ctx := context.Background()
		alice, alicePK := e.enroll(t, aliceA)
		bob, _ := e.enroll(t, bobA)
		r1, r2 := e.request(t), e.request(t)

		refused := func(name string, want error, err error) {
			t.Helper()
			if !errors.Is(err, want) {
				t.Fatalf("%s: got %v, want %v", name, err, want)
			}
		}

		// Replayed for another request: the nonce was issued for r1.
		p := e.sign(t, r1, aliceA, models.VerdictApprove, alice)
		_, err := e.decide(r2, aliceA, models.VerdictApprove, p)
		refused("nonce of another request", passkey.ErrChallengeOther, err)
		// r2's own nonce, with r1's signature: the challenge differs.
		ch2, err := e.svc.PasskeyChallenge(ctx, aliceA, r2.ID, models.VerdictApprove, "", r2.ContentHash)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.decide(r2, aliceA, models.VerdictApprove, &passkey.Proof{Nonce: ch2.Statement.Nonce, Assertion: p.Assertion})
		refused("signature of another request", passkey.ErrChallengeMismatch, err)

		// Another verdict: the nonce was issued for approve.
		_, err = e.decide(r1, aliceA, models.VerdictDeny, p)
		refused("nonce of another verdict", passkey.ErrChallengeOther, err)
		// A deny nonce, with a signature over the approve statement.
		chDeny, err := e.svc.PasskeyChallenge(ctx, aliceA, r1.ID, models.VerdictDeny, "no", r1.ContentHash)
		if err != nil {
			t.Fatal(err)
		}
		forged := chDeny.Statement
		forged.Verdict = "approve"
		_, err = e.decide(r1, aliceA, models.VerdictDeny, &passkey.Proof{Nonce: chDeny.Statement.Nonce, Assertion: alice.SignStatement(forged, testRP.Origins[0])})
		refused("signature of another verdict", passkey.ErrChallengeMismatch, err)
		// Another content: the statement names other content.
		chC, _ := e.svc.PasskeyChallenge(ctx, aliceA, r1.ID, models.VerdictApprove, "", r1.ContentHash)
		forged = chC.Statement
		forged.ContentHash = "sha256:" + strings.Repeat("0", 64)
		_, err = e.decide(r1, aliceA, models.VerdictApprove, &passkey.Proof{Nonce: chC.Statement.Nonce, Assertion: alice.SignStatement(forged, testRP.Origins[0])})
		refused("signature of other content", passkey.ErrChallengeMismatch, err)

		// Another user's credential: bob signs alice's statement.
		chB, _ := e.svc.PasskeyChallenge(ctx, aliceA, r1.ID, models.VerdictApprove, "", r1.ContentHash)
		_, err = e.decide(r1, aliceA, models.VerdictApprove, &passkey.Proof{Nonce: chB.Statement.Nonce, Assertion: bob.SignStatement(chB.Statement, testRP.Origins[0])})
		refused("another user's passkey", passkey.ErrNotOwner, err)

		// A wrong origin.
		chO, _ := e.svc.PasskeyChallenge(ctx, aliceA, r1.ID, models.VerdictApprove, "", r1.ContentHash)
		_, err = e.decide(r1, aliceA, models.VerdictApprove, &passkey.Proof{Nonce: chO.Statement.Nonce, Assertion: alice.SignStatement(chO.Statement, "https://evil.example")})
		refused("wrong origin", passkey.ErrWrongOrigin, err)

		// No user verification.
		alice.NoUV = true
		chU, _ := e.svc.PasskeyChallenge(ctx, aliceA, r1.ID, models.VerdictApprove, "", r1.ContentHash)
		_, err = e.decide(r1, aliceA, models.VerdictApprove, &passkey.Proof{Nonce: chU.Statement.Nonce, Assertion: alice.SignStatement(chU.Statement, testRP.Origins[0])})
		refused("no user verification", passkey.ErrNoUserVerification, err)
		alice.NoUV = false

		// The first, honest use counts; the same challenge twice does not.
		if _, err := e.decide(r1, aliceA, models.VerdictApprove, p); err != nil {
			t.Fatalf("honest decision: %v", err)
		}
		_, err = e.decide(r1, aliceA, models.VerdictApprove, p)
		refused("challenge used twice", passkey.ErrChallengeUsed, err)

		// A counter going backwards: refused and audited.
		chK, _ := e.svc.PasskeyChallenge(ctx, aliceA, r2.ID, models.VerdictApprove, "", r2.ContentHash)
		c, _ := chK.Statement.Challenge()
		var stored models.Passkey
		if err := s.DB(ctx).First(&stored, alicePK.ID).Error; err != nil || stored.SignCount == 0 {
			t.Fatalf("stored counter %d: %v", stored.SignCount, err)
		}
		_, err = e.decide(r2, aliceA, models.VerdictApprove, &passkey.Proof{Nonce: chK.Statement.Nonce, Assertion: alice.SignAt(c, testRP.Origins[0], testRP.ID, uint32(stored.SignCount))})
		refused("counter backwards", passkey.ErrCounterRegressed, err)
		if !slices.Contains(audittest.Types(audittest.Events(t, s)), "passkey.clone_warning") {
			t.Fatal("clone warning not audited")
		}
		// A forged assertion with an old counter is a bad signature, and
		// raises no clone warning: only the passkey's owner can.
		chF, _ := e.svc.PasskeyChallenge(ctx, aliceA, r2.ID, models.VerdictApprove, "", r2.ContentHash)
		cF, _ := chF.Statement.Challenge()
		forgedAs := bob.SignAt(cF, testRP.Origins[0], testRP.ID, 0)
		forgedAs.CredentialID = alicePK.CredentialID
		_, err = e.decide(r2, aliceA, models.VerdictApprove, &passkey.Proof{Nonce: chF.Statement.Nonce, Assertion: forgedAs})
		refused("forged assertion with an old counter", passkey.ErrBadSignature, err)
		warnings := 0
		for _, typ := range audittest.Types(audittest.Events(t, s)) {
			if typ == "passkey.clone_warning" {
				warnings++
			}
		}
		if warnings != 1 {
			t.Fatalf("%d clone warnings, want 1", warnings)
		}

		// A revoked credential (alice still has another one, so she is
		// handed a challenge).
		e.enroll(t, aliceA)
		if err := e.pks.Revoke(ctx, aliceA.Actor, passkey.Auth{Time: time.Now()}, alicePK.ID); err != nil {
			t.Fatal(err)
		}
		chR, err := e.svc.PasskeyChallenge(ctx, aliceA, r2.ID, models.VerdictApprove, "", r2.ContentHash)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.decide(r2, aliceA, models.VerdictApprove, &passkey.Proof{Nonce: chR.Statement.Nonce, Assertion: alice.SignStatement(chR.Statement, testRP.Origins[0])})
		refused("revoked passkey", passkey.ErrRevoked, err)

		// Only the honest decision was recorded.
		var n int64
		s.DB(ctx).Model(&models.Decision{}).Count(&n)
		if n != 1 {
			t.Fatalf("%d decisions recorded, want 1", n)
		}
	})
}

func TestPasskeyRuleRefusesIdPStepUp(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		e := newPKEnv(t, s)
		auth, _ := e.enroll(t, aliceA)
		r := e.request(t)
		if err := s.DB(context.Background()).Model(&models.Request{}).Where("id = ?", r.ID).Update("step_up_passkey", true).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := decide(e.svc, r, aliceA, models.VerdictApprove, ""); !errors.Is(err, passkey.ErrPasskeyRequired) || !errors.Is(err, models.ErrForbidden) {
			t.Fatalf("IdP step-up on a passkey rule: %v", err)
		}
		if _, err := e.decide(r, aliceA, models.VerdictApprove, e.sign(t, r, aliceA, models.VerdictApprove, auth)); err != nil {
			t.Fatalf("passkey on a passkey rule: %v", err)
		}
	})
}

func TestPolicyPasskeyRuleIsStoredAndEnforced(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		src := strings.Replace(submitPolicy, "step_up: {max_age: 2m, acr: ['urn:countersign:acr:mfa']}", "step_up: {max_age: 2m, method: passkey}", 1)
		pks, err := passkey.New(s, passkey.Config{RP: testRP, Fresh: func(passkey.Auth, time.Time) error { return nil }})
		if err != nil {
			t.Fatal(err)
		}
		e := &pkEnv{s: s, pks: pks, svc: newSvc(s, approval.Config{Policy: fixedPolicy{loadPolicy(t, src)}, Passkeys: pks})}
		ctx := context.Background()
		sre := approver("sam", "sam", "sre")
		auth, _ := e.enroll(t, sre)
		prod, err := e.svc.Submit(ctx, submitReq("prod"), []string{"sre"})
		if err != nil {
			t.Fatal(err)
		}
		r, err := e.svc.Get(ctx, prod.Request.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !r.StepUpPasskey || !e.svc.StepUpFor(r).Passkey || !strings.Contains(r.PolicyExplanation, "each signed with a passkey") {
			t.Fatalf("stored rules %+v", r.ApprovalRules)
		}
		created := audittest.Events(t, s)
		if last := created[len(created)-1]; !strings.Contains(last.Payload, `"step_up_method":"passkey"`) {
			t.Errorf("request.created does not record the passkey rule: %s", last.Payload)
		}
		if _, err := decide(e.svc, r, sre, models.VerdictApprove, ""); !errors.Is(err, passkey.ErrPasskeyRequired) {
			t.Fatalf("IdP step-up on a passkey rule: %v", err)
		}
		if _, err := e.decide(r, sre, models.VerdictApprove, e.sign(t, r, sre, models.VerdictApprove, auth)); err != nil {
			t.Fatalf("passkey decision: %v", err)
		}
		// A rule without method keeps the IdP step-up.
		idp := newSvc(s, approval.Config{Policy: fixedPolicy{loadPolicy(t, submitPolicy)}, Passkeys: pks})
		plain, err := idp.Submit(ctx, submitReq("prod"), []string{"sre"})
		if err != nil {
			t.Fatal(err)
		}
		if plain.Request.StepUpPasskey || idp.StepUpFor(plain.Request).Passkey {
			t.Fatalf("a rule without method asks for a passkey: %+v", plain.Request.ApprovalRules)
		}
		fresh := stepUp
		fresh.AuthTime = time.Now()
		if _, err := idp.Decide(ctx, approval.Decision{RequestID: plain.Request.ID, Approver: sre, Verdict: models.VerdictApprove, ContentHash: plain.Request.ContentHash, StepUp: fresh}); err != nil {
			t.Fatalf("IdP step-up on a rule without method: %v", err)
		}
	})
}

// TestPasskeySignatureObeysMaxAge: a passkey signature counts as an
// authentication at the moment its statement was issued, so a rule's
// max_age refuses one signed on a statement older than that (though the
// challenge itself is still valid), and the decision records the
// statement's time as its authentication time.
func TestPasskeySignatureObeysMaxAge(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		pks, err := passkey.New(s, passkey.Config{RP: testRP, Fresh: func(passkey.Auth, time.Time) error { return nil }})
		if err != nil {
			t.Fatal(err)
		}
		var later time.Duration
		clock := func() time.Time { return time.Now().Add(later) }
		e := &pkEnv{s: s, pks: pks, svc: newSvc(s, approval.Config{Passkeys: pks, Now: clock, StepUp: approval.StepUpRule{MaxAge: 30 * time.Second}})}
		auth, _ := e.enroll(t, aliceA)
		r := e.request(t)
		p := e.sign(t, r, aliceA, models.VerdictApprove, auth)
		later = 90 * time.Second // within the 2-minute challenge, past max_age (30 s) and the skew (30 s)
		if _, err := e.decide(r, aliceA, models.VerdictApprove, p); !errors.Is(err, approval.ErrStepUpStale) {
			t.Fatalf("a signature on a statement issued 90 s ago under max_age 30 s: %v, want ErrStepUpStale", err)
		}
		later = 0
		ch, err := e.svc.PasskeyChallenge(context.Background(), aliceA, r.ID, models.VerdictApprove, "reason", r.ContentHash)
		if err != nil {
			t.Fatal(err)
		}
		later = 20 * time.Second // decided 20 s after the statement: still within max_age
		p = &passkey.Proof{Nonce: ch.Statement.Nonce, Assertion: auth.SignStatement(ch.Statement, testRP.Origins[0])}
		out, err := e.decide(r, aliceA, models.VerdictApprove, p)
		if err != nil {
			t.Fatalf("a fresh signature: %v", err)
		}
		// The authentication is the statement's issue, not the moment the
		// decision was stored (20 s later).
		if got, want := out.Decision.AuthTime, ch.Statement.IssuedAt.UTC().Truncate(time.Microsecond); !got.Equal(want) {
			t.Fatalf("decision authentication time %v, want the statement's issue time %v", got, want)
		}
	})
}
