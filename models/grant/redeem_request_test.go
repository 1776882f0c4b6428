package grant_test

import (
	"context"
	"errors"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/models/grant/granttest"
	"github.com/countersign/countersign/models/storetest"
)

func TestRedeemRequestRefusesAGrantOfAnotherRequest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := granttest.New(t, b.Open(t))
		e.Terms.Executor = ""
		ctx := context.Background()
		first, second := e.Approved(t, granttest.Agent), e.Approved(t, granttest.Agent)
		g, _ := e.Grants.Get(ctx, first.ID)
		tok, _ := e.Grants.Token(ctx, first.ID)
		// The agent's own grant, but presented for its other request.
		if _, err := e.Grants.RedeemRequest(ctx, second.ID, tok, g.ParamsSHA256, granttest.Agent); reason(err) != grant.ReasonWrongRequest || !errors.Is(err, models.ErrForbidden) {
			t.Fatalf("grant of another request: %v", err)
		}
		refusals := e.Events(t, "grant.refused")
		if len(refusals) != 1 || refusals[0].RequestID != first.ID || refusals[0].ActorID != granttest.Agent.ID {
			t.Fatalf("refusal audited as %+v", refusals)
		}
		if g, _ := e.Grants.Get(ctx, first.ID); g.RedeemedAt != nil {
			t.Fatal("a refused redemption spent the grant")
		}
		if _, err := e.Grants.RedeemRequest(ctx, "", tok, g.ParamsSHA256, granttest.Agent); !errors.Is(err, models.ErrInvalid) {
			t.Fatalf("no request named: %v", err)
		}
		red, err := e.Grants.RedeemRequest(ctx, first.ID, tok, g.ParamsSHA256, granttest.Agent)
		if err != nil || red.RequestID != first.ID {
			t.Fatalf("own request: %+v %v", red, err)
		}
		if _, err := e.Grants.RedeemRequest(ctx, first.ID, tok, g.ParamsSHA256, granttest.Agent); reason(err) != grant.ReasonReplayed || !errors.Is(err, models.ErrConflict) {
			t.Fatalf("replay: %v", err)
		}
	})
}
