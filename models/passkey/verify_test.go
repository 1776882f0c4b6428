package passkey_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models/passkey"
	"github.com/countersign/countersign/models/passkey/passkeytest"
)

var rp = passkey.RP{ID: "portal.example", Origins: []string{"https://portal.example"}}

func statement() passkey.Statement {
	return passkey.Statement{RequestID: "req-1", ContentHash: "sha256:aa", Verdict: "approve", Approver: "sub-alice", Nonce: "n1", IssuedAt: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
}

func TestVerifyAcceptsTheSignedStatementOnly(t *testing.T) {
	a := passkeytest.New(rp.ID)
	st := statement()
	as := a.SignStatement(st, rp.Origins[0])
	got, err := passkey.Verify(st, as, a.PublicKey(), rp)
	if err != nil {
		t.Fatal(err)
	}
	if got.SignCount != 1 || got.Origin != rp.Origins[0] {
		t.Fatalf("checked %+v", got)
	}
	other := passkeytest.New(rp.ID)
	cases := map[string]struct {
		st   passkey.Statement
		as   passkey.Assertion
		key  string
		rp   passkey.RP
		want error
	}{
		"another verdict":  {st: with(st, func(s *passkey.Statement) { s.Verdict = "deny" }), as: as, key: a.PublicKey(), rp: rp, want: passkey.ErrChallengeMismatch},
		"another content":  {st: with(st, func(s *passkey.Statement) { s.ContentHash = "sha256:bb" }), as: as, key: a.PublicKey(), rp: rp, want: passkey.ErrChallengeMismatch},
		"another request":  {st: with(st, func(s *passkey.Statement) { s.RequestID = "req-2" }), as: as, key: a.PublicKey(), rp: rp, want: passkey.ErrChallengeMismatch},
		"another approver": {st: with(st, func(s *passkey.Statement) { s.Approver = "sub-bob" }), as: as, key: a.PublicKey(), rp: rp, want: passkey.ErrChallengeMismatch},
		"another key":      {st: st, as: as, key: other.PublicKey(), rp: rp, want: passkey.ErrBadSignature},
		"wrong origin":     {st: st, as: a.SignStatement(st, "https://evil.example"), key: a.PublicKey(), rp: rp, want: passkey.ErrWrongOrigin},
		"wrong rp id":      {st: st, as: signAt(a, st, "evil.example"), key: a.PublicKey(), rp: rp, want: passkey.ErrWrongRPID},
		"tampered signature": {st: st, as: func() passkey.Assertion {
			x := as
			x.Signature = other.SignStatement(st, rp.Origins[0]).Signature
			return x
		}(), key: a.PublicKey(), rp: rp, want: passkey.ErrBadSignature},
		"garbage": {st: st, as: passkey.Assertion{CredentialID: "x", AuthenticatorData: "!!", ClientDataJSON: "e30", Signature: "AA"}, key: a.PublicKey(), rp: rp, want: passkey.ErrAssertionMalformed},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := passkey.Verify(tc.st, tc.as, tc.key, tc.rp); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyRequiresUserVerification(t *testing.T) {
	a := passkeytest.New(rp.ID)
	a.NoUV = true
	st := statement()
	if _, err := passkey.Verify(st, a.SignStatement(st, rp.Origins[0]), a.PublicKey(), rp); !errors.Is(err, passkey.ErrNoUserVerification) {
		t.Fatalf("got %v", err)
	}
}

func TestStatementIsCanonicalAndDomainSeparated(t *testing.T) {
	st := statement()
	c, err := st.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(c), passkey.StatementHeader+"\n") {
		t.Fatalf("no header: %q", c)
	}
	back, err := passkey.ParseStatement(string(c))
	if err != nil || back != st {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	bad := with(st, func(s *passkey.Statement) { s.Approver = "sub-alice\nverdict: deny" })
	if _, err := bad.Canonical(); !errors.Is(err, passkey.ErrStatementInvalid) {
		t.Fatalf("a newline in a value: %v", err)
	}
	if _, err := passkey.ParseStatement(strings.Replace(string(c), "approve", "deny", 1) + "extra: 1\n"); !errors.Is(err, passkey.ErrStatementInvalid) {
		t.Fatalf("extra line accepted: %v", err)
	}
	c1, _ := st.Challenge()
	c2, _ := with(st, func(s *passkey.Statement) { s.Nonce = "n2" }).Challenge()
	if string(c1) == string(c2) {
		t.Fatal("nonce does not change the challenge")
	}
}

func with(s passkey.Statement, f func(*passkey.Statement)) passkey.Statement { f(&s); return s }

func signAt(a *passkeytest.Authenticator, st passkey.Statement, rpID string) passkey.Assertion {
	c, _ := st.Challenge()
	a.Counter++
	return a.SignAt(c, rp.Origins[0], rpID, a.Counter)
}
