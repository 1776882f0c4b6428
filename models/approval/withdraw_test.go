package approval_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit/audittest"
	"github.com/countersign/countersign/models/storetest"
)

// TestWithdrawFollowsTheCancelRule: from the portal, the requester of a
// person's request (known by IdP subject or chat username) and the
// sponsor of an agent's may withdraw it while it is pending, and nobody
// else; the audit event names the person as signed in.
func TestWithdrawFollowsTheCancelRule(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		svc := approval.New(s, approval.Config{})
		ctx := context.Background()
		human := create(t, svc, humanRequest()) // requester mm-carol ("carol")
		bot := create(t, svc, newRequest())     // agent b-deploy, sponsor u-dave ("dave")
		portal := func(sub, name, username string) approval.Approver {
			return approval.Approver{Actor: models.Actor{Type: models.ActorHuman, ID: sub, Display: name}, Username: username, Roles: []string{"approver"}}
		}
		for _, tc := range []struct {
			id  string
			who approval.Approver
		}{
			{human.ID, portal("idp-alice", "Alice", "alice")},
			{human.ID, portal("", "", "")},
			{bot.ID, portal("idp-carol", "Carol", "carol")},
			{bot.ID, portal("b-deploy", "deploy-bot", "deploy-bot")},
		} {
			if _, err := svc.Withdraw(ctx, tc.id, tc.who, "x"); !errors.Is(err, approval.ErrNotYours) {
				t.Errorf("%s by %+v: %v, want ErrNotYours", tc.id, tc.who.Actor, err)
			}
		}
		// Someone who may not see the request learns nothing of it.
		stranger := approval.Approver{Actor: models.Actor{Type: models.ActorHuman, ID: "idp-erin", Display: "Erin"}, Username: "erin"}
		if _, err := svc.Withdraw(ctx, human.ID, stranger, ""); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("withdraw by someone who may not see it: %v, want not found", err)
		}
		// Bad reasons are refused and change nothing.
		for _, bad := range []string{"\xff\xfe", strings.Repeat("x", approval.WithdrawReasonMax+1)} {
			if _, err := svc.Withdraw(ctx, human.ID, portal("idp-carol", "Carol C.", "carol"), bad); !errors.Is(err, models.ErrInvalid) {
				t.Errorf("reason of %d bytes: %v, want invalid", len(bad), err)
			}
		}
		if r, err := svc.Get(ctx, human.ID); err != nil || r.State != models.StatePending {
			t.Fatalf("after refused withdrawals: %v %v", r, err)
		}
		// The sponsor by chat username, with an IdP subject of their own.
		got, err := svc.Withdraw(ctx, bot.ID, portal("idp-dave", "Dave D.", "dave"), "not needed any more")
		if err != nil || got.State != models.StateCancelled {
			t.Fatalf("sponsor withdraw: %v %v", got, err)
		}
		if _, err := svc.Withdraw(ctx, human.ID, portal("idp-carol", "Carol C.", "Carol"), "fixed otherwise"); err != nil {
			t.Fatal(err)
		}
		var moved *approval.MovedError
		if _, err := svc.Withdraw(ctx, human.ID, portal("idp-carol", "Carol C.", "carol"), "again"); !errors.As(err, &moved) || moved.By != "Carol C." {
			t.Errorf("second withdraw: %v, want a MovedError by Carol C.", err)
		}
		evs := audittest.Events(t, s)
		last := evs[len(evs)-1]
		if last.Type != "request.cancelled" || last.ActorID != "idp-carol" || last.ActorDisplay != "Carol C." {
			t.Errorf("audit: last %s by %s (%s), want request.cancelled by idp-carol", last.Type, last.ActorID, last.ActorDisplay)
		}
	})
}
