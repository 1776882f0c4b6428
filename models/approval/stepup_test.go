package approval_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/storetest"
)

func TestStepUpRuleCheck(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	mfa := "urn:countersign:acr:mfa"
	su := func(age time.Duration, acr string, amr ...string) approval.StepUp {
		return approval.StepUp{AuthTime: now.Add(-age), ACR: acr, AMR: amr}
	}
	five := approval.StepUpRule{MaxAge: 5 * time.Minute}
	tests := []struct {
		name string
		rule approval.StepUpRule
		su   approval.StepUp
		want error
	}{
		{"fresh, no strength rules", five, su(time.Minute, ""), nil},
		{"fresh mfa", approval.StepUpRule{MaxAge: 5 * time.Minute, ACR: []string{mfa}, AMRAny: []string{"otp", "hwk"}}, su(time.Minute, mfa, "pwd", "otp"), nil},
		{"exactly max age", five, su(5*time.Minute, mfa), nil},
		{"within skew past max age", five, su(5*time.Minute+29*time.Second, mfa), nil},
		{"beyond skew past max age", five, su(5*time.Minute+31*time.Second, mfa), approval.ErrStepUpStale},
		{"a wider skew", approval.StepUpRule{MaxAge: 5 * time.Minute, Skew: time.Minute}, su(5*time.Minute+59*time.Second, mfa), nil},
		{"hours old", five, su(3*time.Hour, mfa), approval.ErrStepUpStale},
		{"no auth_time", five, approval.StepUp{ACR: mfa}, approval.ErrStepUpStale},
		{"auth_time in the future", five, su(-time.Minute, mfa), approval.ErrStepUpStale},
		{"auth_time slightly ahead (skew)", five, su(-10*time.Second, mfa), nil},
		{"zero max age means the default", approval.StepUpRule{}, su(4*time.Minute, ""), nil},
		{"default max age bounds", approval.StepUpRule{}, su(6*time.Minute, ""), approval.ErrStepUpStale},
		{"acr too weak", approval.StepUpRule{MaxAge: 5 * time.Minute, ACR: []string{mfa}}, su(time.Minute, "urn:countersign:acr:pwd", "pwd"), approval.ErrStepUpWeak},
		{"acr missing", approval.StepUpRule{MaxAge: 5 * time.Minute, ACR: []string{mfa}}, su(time.Minute, "", "pwd"), approval.ErrStepUpWeak},
		{"amr lacks a wanted method", approval.StepUpRule{MaxAge: 5 * time.Minute, AMRAny: []string{"otp", "hwk"}}, su(time.Minute, mfa, "pwd"), approval.ErrStepUpWeakAMR},
		{"amr empty", approval.StepUpRule{MaxAge: 5 * time.Minute, AMRAny: []string{"otp"}}, su(time.Minute, mfa), approval.ErrStepUpWeakAMR},
		{"stale beats strong", approval.StepUpRule{MaxAge: 5 * time.Minute, ACR: []string{mfa}, AMRAny: []string{"otp"}}, su(time.Hour, mfa, "otp"), approval.ErrStepUpStale},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.rule.Check(tc.su, now)
			if tc.want == nil && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.want != nil && (!errors.Is(err, tc.want) || !errors.Is(err, models.ErrForbidden)) {
				t.Fatalf("err = %v, want %v (forbidden)", err, tc.want)
			}
		})
	}
}

// TestStepUpForTightensThePortalRule: a request's own rule (from its
// policy rule) can shorten max_age and name its acr values; it never
// loosens the portal's.
func TestStepUpForTightensThePortalRule(t *testing.T) {
	s := storetest.SQLite(t).Open(t)
	svc := approval.New(s, approval.Config{StepUp: approval.StepUpRule{MaxAge: 5 * time.Minute, ACR: []string{"pwd", "mfa"}, AMRAny: []string{"otp"}}})
	if got := svc.StepUpFor(&models.Request{}); got.MaxAge != 5*time.Minute || len(got.ACR) != 2 || got.Skew != approval.DefaultClockSkew {
		t.Errorf("no request rules: %+v", got)
	}
	r := &models.Request{ApprovalRules: models.ApprovalRules{StepUpMaxAge: 2 * time.Minute, StepUpACR: models.Words{"hwk"}}}
	if got := svc.StepUpFor(r); got.MaxAge != 2*time.Minute || !slices.Equal(got.ACR, []string{"hwk"}) || got.AMRAny[0] != "otp" {
		t.Errorf("tightened: %+v", got)
	}
	r.StepUpMaxAge = time.Hour
	if got := svc.StepUpFor(r); got.MaxAge != 5*time.Minute {
		t.Errorf("a longer request max_age must not loosen the portal's: %v", got.MaxAge)
	}
}

// TestDecideAppliesThePortalStepUp: Decide holds every decision to the
// same rule the portal checks before recording it (not only the request's
// own), so a stale or weak authentication can never be recorded, however
// the service is called.
func TestDecideAppliesThePortalStepUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
		svc := approval.New(b.Open(t), approval.Config{
			Now: func() time.Time { return now }, ApproverRoles: []string{"approver"},
			StepUp: approval.StepUpRule{MaxAge: 5 * time.Minute, AMRAny: []string{"otp"}},
		})
		r, err := svc.Create(context.Background(), humanRequest())
		if err != nil {
			t.Fatal(err)
		}
		try := func(su approval.StepUp) error {
			_, err := svc.Decide(context.Background(), approval.Decision{RequestID: r.ID, Approver: aliceA, Verdict: models.VerdictApprove, ContentHash: r.ContentHash, StepUp: su})
			return err
		}
		if err := try(approval.StepUp{AuthTime: now.Add(-6 * time.Minute), AMR: []string{"otp"}}); !errors.Is(err, approval.ErrStepUpStale) {
			t.Fatalf("six-minute-old sign-in: %v", err)
		}
		if err := try(approval.StepUp{AuthTime: now.Add(-time.Minute), AMR: []string{"pwd"}}); !errors.Is(err, approval.ErrStepUpWeakAMR) {
			t.Fatalf("password only: %v", err)
		}
		if err := try(approval.StepUp{AuthTime: now.Add(-time.Minute), AMR: []string{"pwd", "otp"}}); err != nil {
			t.Fatalf("fresh with otp: %v", err)
		}
	})
}

// TestCountsUntilIsWhereCheckStops: a sign-in satisfies the rule up to
// CountsUntil and not after it (beyond the tolerated skew); a rule with no
// MaxAge uses the default.
func TestCountsUntilIsWhereCheckStops(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	su := approval.StepUp{AuthTime: at}
	for _, rule := range []approval.StepUpRule{{MaxAge: 5 * time.Minute}, {}} {
		until := rule.CountsUntil(su)
		if !until.After(at) {
			t.Fatalf("rule %+v: counts until %s, not after the sign-in", rule, until)
		}
		if err := rule.Check(su, until); err != nil {
			t.Errorf("rule %+v: refused at CountsUntil: %v", rule, err)
		}
		if err := rule.Check(su, until.Add(time.Hour)); err == nil {
			t.Errorf("rule %+v: still counts an hour after CountsUntil", rule)
		}
	}
	if got := (approval.StepUpRule{MaxAge: 5 * time.Minute}).CountsUntil(su); !got.Equal(at.Add(5 * time.Minute)) {
		t.Errorf("CountsUntil %s, want five minutes after the sign-in", got)
	}
}
