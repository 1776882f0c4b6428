package grant_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/models/grant/granttest"
	"github.com/countersign/countersign/models/storetest"
)

var deployer = grant.ExecutorActor("deployer")

// verifyWithJWKS checks token against the published key set only, the way
// an executor does.
func verifyWithJWKS(t *testing.T, set jose.JSONWebKeySet, token string) grant.Claims {
	t.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q published %d times", tok.Headers[0].KeyID, len(keys))
	}
	var c grant.Claims
	if err := tok.Claims(keys[0].Key, &c); err != nil {
		t.Fatalf("token does not verify against JWKS: %v", err)
	}
	return c
}

func TestApprovalMintsAGrantAndDenialDoesNot(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := granttest.New(t, b.Open(t))
		ctx := context.Background()
		r := e.Create(t, granttest.NewRequest(granttest.Human, 2))
		if _, err := e.Decide(r, granttest.Approver("alice"), models.VerdictApprove); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Grants.Get(ctx, r.ID); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("a pending request has a grant (err %v)", err)
		}
		out, err := e.Decide(r, granttest.Approver("bob"), models.VerdictApprove)
		if err != nil || out.Request.State != models.StateApproved {
			t.Fatalf("approve: %v", err)
		}
		g, err := e.Grants.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if g.Audience != "deployer" || g.Action != "restart" || g.State != grant.StateIssued || g.RedeemedAt != nil ||
			g.ParamsSHA256 != grant.ParamsHash(r.Params) || g.ContentHash != r.ContentHash ||
			!g.ExpiresAt.Equal(g.IssuedAt.Add(5*time.Minute)) || g.Approvers != `["sub-alice","sub-bob"]` {
			t.Fatalf("grant row %+v", g)
		}
		issued := e.Events(t, "grant.issued")
		if len(issued) != 1 || issued[0].RequestID != r.ID || !strings.Contains(issued[0].Payload, g.JTI) {
			t.Fatalf("grant.issued events %+v", issued)
		}

		tok, err := e.Grants.Token(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := e.Grants.Token(ctx, r.ID)
		if again != tok {
			t.Fatal("the token must re-derive identically from the stored row")
		}
		set, err := e.Grants.JWKS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c := verifyWithJWKS(t, set, tok)
		if c.Issuer != granttest.Issuer || c.Subject != r.ID || len(c.Audience) != 1 || c.Audience[0] != "deployer" ||
			c.ID != g.JTI || c.Action != "restart" || c.ParamsSHA256 != g.ParamsSHA256 || c.RequestContentHash != r.ContentHash ||
			len(c.Approvers) != 2 || c.Expiry.Time().Sub(c.IssuedAt.Time()) != 5*time.Minute || *c.NotBefore != *c.IssuedAt {
			t.Fatalf("claims %+v", c)
		}

		// A custom lifetime from the terms; a denied request gets nothing.
		e.Terms.GrantTTL = 90 * time.Second
		r2 := e.Approved(t, granttest.Human)
		g2, _ := e.Grants.Get(ctx, r2.ID)
		if g2.ExpiresAt.Sub(g2.IssuedAt) != 90*time.Second {
			t.Fatalf("grant lifetime %s, want the terms' 90s", g2.ExpiresAt.Sub(g2.IssuedAt))
		}
		r3 := e.Create(t, granttest.NewRequest(granttest.Human, 1))
		if _, err := e.Decide(r3, granttest.Approver("alice"), models.VerdictDeny); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Grants.Get(ctx, r3.ID); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("a denied request has a grant (err %v)", err)
		}
		if n := len(e.Events(t, "grant.issued")); n != 2 {
			t.Fatalf("%d grant.issued events, want 2", n)
		}
	})
}

func TestRotationKeepsOldGrantsVerifyingUntilRetired(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := granttest.New(t, b.Open(t))
		ctx := context.Background()
		old, oldTok := e.Issued(t, granttest.Human)
		set, _ := e.Grants.JWKS(ctx)
		if len(set.Keys) != 1 {
			t.Fatalf("%d keys published at first start", len(set.Keys))
		}
		oldKID := set.Keys[0].KeyID
		pub := set.Keys[0].Key.(ed25519.PublicKey)
		if tp, _ := grant.Thumbprint(pub); tp != oldKID {
			t.Fatalf("kid %s is not the RFC 7638 thumbprint %s", oldKID, tp)
		}
		newKID, err := e.Grants.Rotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		fresh, freshTok := e.Issued(t, granttest.Human)
		set, _ = e.Grants.JWKS(ctx)
		if len(set.Keys) != 2 || set.Keys[0].KeyID != newKID {
			t.Fatalf("after rotation JWKS = %+v", set.Keys)
		}
		if c := verifyWithJWKS(t, set, freshTok); c.Subject != fresh.ID {
			t.Fatal("fresh token")
		}
		if tok, _ := jwt.ParseSigned(freshTok, []jose.SignatureAlgorithm{jose.EdDSA}); tok.Headers[0].KeyID != newKID {
			t.Fatal("the newest key must sign")
		}
		verifyWithJWKS(t, set, oldTok)
		if _, err := e.Grants.Redeem(ctx, oldTok, grant.ParamsHash(old.Params), deployer); err != nil {
			t.Fatalf("an old-key grant must redeem while its key is published: %v", err)
		}
		if err := e.Grants.Retire(ctx, newKID); !errors.Is(err, models.ErrInvalid) {
			t.Fatalf("retiring the signing key: %v", err)
		}
		other := e.Approved(t, granttest.Human) // signed by the new key
		_ = other
		if err := e.Grants.Retire(ctx, oldKID); err != nil {
			t.Fatal(err)
		}
		set, _ = e.Grants.JWKS(ctx)
		if len(set.Keys) != 1 || set.Keys[0].KeyID != newKID {
			t.Fatalf("retired key still published: %+v", set.Keys)
		}
		// A grant signed by a retired key is refused.
		e.Clock.Advance(time.Second)
		old2 := e.Create(t, granttest.NewRequest(granttest.Human, 1))
		_ = old2
		if _, err := e.Grants.Redeem(ctx, oldTok, grant.ParamsHash(old.Params), deployer); reason(err) != grant.ReasonUnknownKey {
			t.Fatalf("retired key: %v", err)
		}
	})
}

func reason(err error) grant.Reason {
	var re *grant.RefusedError
	if errors.As(err, &re) {
		return re.Reason
	}
	return ""
}

func TestRedeemOnceUnderConcurrencyAcrossProcesses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		s1 := b.Open(t)
		s2 := b.Open(t) // a second process on the same database
		e1 := granttest.New(t, s1)
		e2 := granttest.New(t, s2)
		ctx := context.Background()
		r := e1.Approved(t, granttest.Human)
		tok, err := e1.Grants.Token(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		hash := grant.ParamsHash(r.Params)
		const n = 24
		results := make(chan error, n)
		storetest.Race(n, func(i int) {
			svc := e1.Grants
			if i%2 == 1 {
				svc = e2.Grants
			}
			_, err := svc.Redeem(ctx, tok, hash, deployer)
			results <- err
		})
		close(results)
		wins := 0
		for err := range results {
			switch {
			case err == nil:
				wins++
			case reason(err) == grant.ReasonReplayed && errors.Is(err, models.ErrConflict):
			default:
				t.Errorf("unexpected redemption error: %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d redemptions won, want exactly 1", wins)
		}
		if got := len(e1.Events(t, "grant.redeemed")); got != 1 {
			t.Fatalf("%d grant.redeemed events", got)
		}
		if got := len(e1.Events(t, "grant.refused")); got != n-1 {
			t.Fatalf("%d grant.refused events, want %d", got, n-1)
		}
	})
}

func TestRefusalsAreClearAndAudited(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := granttest.New(t, b.Open(t))
		ctx := context.Background()
		r, tok := e.Issued(t, granttest.Human)
		hash := grant.ParamsHash(r.Params)

		// A forgery: same claims and kid, another key.
		_, evil, _ := ed25519.GenerateKey(rand.Reader)
		g, _ := e.Grants.Get(ctx, r.ID)
		sig, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: evil, KeyID: g.KID}}, nil)
		forged, _ := jwt.Signed(sig).Claims(grant.ClaimsOf(g)).Serialize()
		// A tampered payload keeps the real signature.
		parts := strings.Split(tok, ".")
		tampered := parts[0] + "." + strings.TrimRight(parts[1], "A") + "B." + parts[2]
		otherHash, _ := grant.ParamsHashOf([]byte(`{"env":"prod","replicas":30,"service":"payments-api"}`))

		cases := []struct {
			name   string
			token  string
			hash   string
			who    models.Actor
			reason grant.Reason
		}{
			{"garbage", "not-a-jwt", hash, deployer, grant.ReasonMalformed},
			{"forged", forged, hash, deployer, grant.ReasonBadSignature},
			{"tampered", tampered, hash, deployer, grant.ReasonBadSignature},
			{"wrong audience", tok, hash, grant.ExecutorActor("other"), grant.ReasonWrongAudience},
			{"another agent", tok, hash, granttest.Agent, grant.ReasonWrongAudience},
			{"mismatched params", tok, otherHash, deployer, grant.ReasonParamsMismatch},
		}
		for _, c := range cases {
			before := len(e.Events(t, "grant.refused"))
			_, err := e.Grants.Redeem(ctx, c.token, c.hash, c.who)
			if reason(err) != c.reason || !errors.Is(err, models.ErrForbidden) {
				t.Errorf("%s: got %v, want refusal %s", c.name, err, c.reason)
				continue
			}
			evs := e.Events(t, "grant.refused")
			if len(evs) != before+1 || !strings.Contains(evs[len(evs)-1].Payload, `"reason":"`+string(c.reason)+`"`) {
				t.Errorf("%s: refusal not audited with its reason", c.name)
			}
		}
		if g, _ := e.Grants.Get(ctx, r.ID); g.RedeemedAt != nil {
			t.Fatal("a refused redemption spent the grant")
		}
		// The real one redeems once; the replay is refused and audited.
		red, err := e.Grants.Redeem(ctx, tok, strings.ToUpper(hash), deployer)
		if err != nil || red.RequestID != r.ID || red.Params != r.Params {
			t.Fatalf("redeem: %+v %v", red, err)
		}
		if _, err := e.Grants.Redeem(ctx, tok, hash, deployer); reason(err) != grant.ReasonReplayed {
			t.Fatalf("replay: %v", err)
		}
		evs := e.Events(t, "grant.refused")
		if last := evs[len(evs)-1]; last.RequestID != r.ID || !strings.Contains(last.Payload, `"reason":"replayed"`) {
			t.Fatalf("replay audit %+v", last)
		}

		// Expired: past exp beyond the leeway.
		r2, tok2 := e.Issued(t, granttest.Human)
		e.Clock.Advance(5*time.Minute + grant.DefaultLeeway + time.Second)
		if _, err := e.Grants.Redeem(ctx, tok2, hash, deployer); reason(err) != grant.ReasonExpired {
			t.Fatalf("expired: %v", err)
		}
		if g, _ := e.Grants.Get(ctx, r2.ID); g.RedeemedAt != nil {
			t.Fatal("an expired grant was spent")
		}
	})
}

func TestAgentRedeemsItsOwnGrant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := granttest.New(t, b.Open(t))
		e.Terms.Executor = ""
		ctx := context.Background()
		r := e.Approved(t, granttest.Agent)
		g, _ := e.Grants.Get(ctx, r.ID)
		if g.Audience != grant.AgentAudiencePrefix+granttest.Agent.ID {
			t.Fatalf("audience %q", g.Audience)
		}
		tok, _ := e.Grants.Token(ctx, r.ID)
		if _, err := e.Grants.Redeem(ctx, tok, g.ParamsSHA256, granttest.OtherAgent); reason(err) != grant.ReasonWrongAudience {
			t.Fatalf("another agent: %v", err)
		}
		if _, err := e.Grants.Redeem(ctx, tok, g.ParamsSHA256, grant.ExecutorActor("deployer")); reason(err) != grant.ReasonWrongAudience {
			t.Fatalf("an executor redeeming an agent's grant: %v", err)
		}
		if _, err := e.Grants.Redeem(ctx, tok, g.ParamsSHA256, granttest.Agent); err != nil {
			t.Fatal(err)
		}
	})
}

func TestExpiringTheRequestExpiresItsGrantUnlessRedeemed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := granttest.New(t, b.Open(t))
		ctx := context.Background()
		sys := models.SystemActor("expiry")
		r := e.Approved(t, granttest.Human)
		if _, err := e.Approvals.Move(ctx, approval.Transition{ID: r.ID, From: models.StateApproved, To: models.StateExpired, Actor: sys}); err != nil {
			t.Fatal(err)
		}
		g, _ := e.Grants.Get(ctx, r.ID)
		if g.State != grant.StateExpired || len(e.Events(t, "grant.expired")) != 1 {
			t.Fatalf("grant %s after the request expired", g.State)
		}
		if _, err := e.Grants.Token(ctx, r.ID); !errors.Is(err, models.ErrConflict) {
			t.Fatalf("token of an expired grant: %v", err)
		}

		r2, tok := e.Issued(t, granttest.Human)
		if _, err := e.Grants.Redeem(ctx, tok, grant.ParamsHash(r2.Params), deployer); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Approvals.Move(ctx, approval.Transition{ID: r2.ID, From: models.StateApproved, To: models.StateExpired, Actor: sys}); !errors.Is(err, models.ErrConflict) {
			t.Fatalf("a redeemed grant's request must not expire: %v", err)
		}
		if got, _ := e.Approvals.Get(ctx, r2.ID); got.State != models.StateApproved {
			t.Fatalf("request is %s", got.State)
		}
	})
}

func TestParamsHashOfIsCanonical(t *testing.T) {
	a, err := grant.ParamsHashOf([]byte(`{ "replicas": 3.0, "env":"prod","service":"payments-api"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"service": "payments-api", "env": "prod", "replicas": 3})
	h, _ := grant.ParamsHashOf(b)
	if a != h || a != grant.ParamsHash(`{"env":"prod","replicas":3,"service":"payments-api"}`) {
		t.Fatalf("hashes differ: %s %s", a, h)
	}
	if _, err := grant.ParamsHashOf([]byte(`[1]`)); !errors.Is(err, models.ErrInvalid) {
		t.Fatalf("array params: %v", err)
	}
}
