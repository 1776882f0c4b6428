package passkey_test

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/passkey"
	"github.com/countersign/countersign/models/passkey/passkeytest"
	"github.com/countersign/countersign/models/storetest"
)

// enrolled enrols a as alice's passkey.
func enrolled(t *testing.T, svc *passkey.Service, a *passkeytest.Authenticator) {
	t.Helper()
	ctx := context.Background()
	en, err := svc.BeginEnroll(ctx, alice, fresh)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.FinishEnroll(ctx, alice, fresh, en.ID, "key", a.Register(en.Options.Response.Challenge, rp.Origins[0])); err != nil {
		t.Fatal(err)
	}
}

// checkOnce issues a decision challenge for alice and checks the
// assertion sign makes for its statement, in a transaction of its own.
func checkOnce(t *testing.T, s *models.Store, svc *passkey.Service, sign func(passkey.Statement) passkey.Assertion) (*passkey.Evidence, error) {
	t.Helper()
	ctx := context.Background()
	want := passkey.Expect{RequestID: "REQ-1", ContentHash: "sha256:ab", Verdict: "approve", ApproverID: alice.ID}
	ch, err := svc.IssueDecision(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	var ev *passkey.Evidence
	err = s.WithTx(ctx, func(tx *gorm.DB) error {
		var err error
		ev, err = svc.CheckDecision(tx, ch.Statement.IssuedAt.Add(time.Second), want, passkey.Proof{Nonce: ch.Statement.Nonce, Assertion: sign(ch.Statement)})
		return err
	})
	return ev, err
}

// TestCounterlessPasskeySignsEveryTime: an authenticator without a
// signature counter (it always presents 0, as many synced passkeys do)
// signs decision after decision; once a passkey has counted, a 0 is a
// counter going backwards.
func TestCounterlessPasskeySignsEveryTime(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		svc := newService(t, s)
		a := passkeytest.New(rp.ID)
		a.NoCounter = true
		enrolled(t, svc, a)
		for i := 0; i < 3; i++ {
			ev, err := checkOnce(t, s, svc, func(st passkey.Statement) passkey.Assertion { return a.SignStatement(st, rp.Origins[0]) })
			if err != nil || ev.SignCount != 0 {
				t.Fatalf("decision %d with a counterless passkey: %v %+v", i+1, err, ev)
			}
		}

		// The passkey starts counting: accepted, and from then on a 0 is
		// refused.
		a.NoCounter, a.Counter = false, 4
		if ev, err := checkOnce(t, s, svc, func(st passkey.Statement) passkey.Assertion { return a.SignStatement(st, rp.Origins[0]) }); err != nil || ev.SignCount != 5 {
			t.Fatalf("first counted signature: %v %+v", err, ev)
		}
		_, err := checkOnce(t, s, svc, func(st passkey.Statement) passkey.Assertion {
			c, _ := st.Challenge()
			return a.SignAt(c, rp.Origins[0], rp.ID, 0)
		})
		var ce *passkey.CounterError
		if !errors.As(err, &ce) || ce.Stored != 5 || ce.Got != 0 {
			t.Fatalf("a 0 after 5: %v", err)
		}
	})
}

// TestMalformedAssertionsAreRefusedAndChangeNothing: an assertion that
// cannot be read is refused with ErrAssertionMalformed (or the precise
// reason), and its transaction leaves the challenge unused and the
// credential's counter where it was — the honest assertion for the same
// challenge still counts afterwards.
func TestMalformedAssertionsAreRefusedAndChangeNothing(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		a := passkeytest.New(rp.ID)
		enrolled(t, svc, a)
		want := passkey.Expect{RequestID: "REQ-1", ContentHash: "sha256:ab", Verdict: "approve", ApproverID: alice.ID}
		ch, err := svc.IssueDecision(ctx, want)
		if err != nil {
			t.Fatal(err)
		}
		honest := a.SignStatement(ch.Statement, rp.Origins[0])
		ad, _ := passkey.Decode(honest.AuthenticatorData)
		edit := func(f func(*passkey.Assertion)) passkey.Assertion {
			x := honest
			f(&x)
			return x
		}
		cases := map[string]struct {
			as   passkey.Assertion
			want error
		}{
			"empty":                         {passkey.Assertion{}, passkey.ErrAssertionMalformed},
			"authenticator data not base64": {edit(func(x *passkey.Assertion) { x.AuthenticatorData = "not base64!" }), passkey.ErrAssertionMalformed},
			"authenticator data too short":  {edit(func(x *passkey.Assertion) { x.AuthenticatorData = passkey.Encode(ad[:36]) }), passkey.ErrAssertionMalformed},
			"client data not base64":        {edit(func(x *passkey.Assertion) { x.ClientDataJSON = "%%%" }), passkey.ErrAssertionMalformed},
			"client data not JSON":          {edit(func(x *passkey.Assertion) { x.ClientDataJSON = passkey.Encode([]byte("not json")) }), passkey.ErrAssertionMalformed},
			"client data of a registration": {edit(func(x *passkey.Assertion) {
				x.ClientDataJSON = passkey.Encode([]byte(`{"type":"webauthn.create","challenge":"AA","origin":"https://portal.example"}`))
			}), passkey.ErrWrongCeremony},
			"challenge not base64": {edit(func(x *passkey.Assertion) {
				x.ClientDataJSON = passkey.Encode([]byte(`{"type":"webauthn.get","challenge":"!!","origin":"https://portal.example"}`))
			}), passkey.ErrChallengeMismatch},
			"no signature":               {edit(func(x *passkey.Assertion) { x.Signature = "" }), passkey.ErrAssertionMalformed},
			"signature not DER":          {edit(func(x *passkey.Assertion) { x.Signature = passkey.Encode([]byte("not a signature")) }), passkey.ErrBadSignature},
			"no credential id":           {edit(func(x *passkey.Assertion) { x.CredentialID = "" }), passkey.ErrUnknownCredential},
			"credential id not enrolled": {edit(func(x *passkey.Assertion) { x.CredentialID = passkey.Encode([]byte("someone else's key")) }), passkey.ErrUnknownCredential},
			"authenticator data altered": {edit(func(x *passkey.Assertion) { x.AuthenticatorData = passkey.Encode(raised(ad, 9)) }), passkey.ErrBadSignature},
			"trailing bytes":             {edit(func(x *passkey.Assertion) { x.AuthenticatorData = passkey.Encode(append(ad[:37:37], 0x01)) }), passkey.ErrAssertionMalformed},
		}
		for name, tc := range cases {
			err := s.WithTx(ctx, func(tx *gorm.DB) error {
				_, err := svc.CheckDecision(tx, ch.Statement.IssuedAt.Add(time.Second), want, passkey.Proof{Nonce: ch.Statement.Nonce, Assertion: tc.as})
				return err
			})
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: got %v, want %v", name, err, tc.want)
			}
		}
		var stored models.Passkey
		if err := s.DB(ctx).First(&stored, "credential_id = ?", a.CredentialID()).Error; err != nil || stored.SignCount != 0 || stored.LastUsedAt != nil {
			t.Fatalf("after refused assertions the passkey is %+v (%v), want unused", stored, err)
		}
		if err := s.WithTx(ctx, func(tx *gorm.DB) error {
			_, err := svc.CheckDecision(tx, ch.Statement.IssuedAt.Add(2*time.Second), want, passkey.Proof{Nonce: ch.Statement.Nonce, Assertion: honest})
			return err
		}); err != nil {
			t.Fatalf("the honest assertion after the refused ones: %v", err)
		}
	})
}

// raised is authenticator data ad with its signature counter set to n,
// not signed again.
func raised(ad []byte, n uint32) []byte {
	out := append([]byte{}, ad...)
	binary.BigEndian.PutUint32(out[33:37], n)
	return out
}
