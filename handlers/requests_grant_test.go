package handlers

import (
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models/grant"
)

type fakeGrantRecords = records[grant.Grant]

func TestRequestPageShowsTheGrantAsItStands(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	grants := fakeGrantRecords{}
	f := newRequestsFixture(t, RequestsOptions{Grants: grants, Now: func() time.Time { return now }})
	r := f.byAction["flush-cache"]
	redeemedAt := now.Add(-2 * time.Minute)
	cases := []struct {
		name                     string
		g                        grant.Grant
		state, audience, summary string
		expired                  bool
		redeemedBy               string
	}{
		{"issued", grant.Grant{State: grant.StateIssued, Audience: "example", IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(4 * time.Minute)},
			"issued", "executor example", "not yet redeemed", false, ""},
		{"past its expiry, not yet swept", grant.Grant{State: grant.StateIssued, Audience: "example", IssuedAt: now.Add(-10 * time.Minute), ExpiresAt: now.Add(-5 * time.Minute)},
			"issued", "executor example", "Expired unused", true, ""},
		{"expired", grant.Grant{State: grant.StateExpired, Audience: "example", IssuedAt: now.Add(-10 * time.Minute), ExpiresAt: now.Add(-5 * time.Minute)},
			"expired", "executor example", "Expired unused", true, ""},
		{"redeemed by its executor", grant.Grant{State: grant.StateRedeemed, Audience: "example", IssuedAt: now.Add(-3 * time.Minute), ExpiresAt: now.Add(-time.Second), RedeemedAt: &redeemedAt, RedeemedBy: "executor:example"},
			"redeemed", "executor example", "Redeemed once by executor example", false, "executor example"},
	}
	for _, tc := range cases {
		g := tc.g
		g.JTI, g.RequestID = "jti-"+strings.ReplaceAll(tc.name, " ", "-"), r.ID
		grants[r.ID] = &g
		doc := f.page(t, userAlice, "/requests/"+r.ID)
		sec := doc.Find(byTestID("section-grant"))
		if sec.Length() != 1 {
			t.Fatalf("%s: no grant section", tc.name)
		}
		if got := squish(sec.Find(byTestID("grant-state"))); !strings.HasPrefix(got, tc.state) {
			t.Errorf("%s: state %q", tc.name, got)
		}
		if got := squish(sec.Find(byTestID("grant-audience"))); got != tc.audience {
			t.Errorf("%s: audience %q", tc.name, got)
		}
		if got := squish(sec.Find(byTestID("grant-summary"))); !strings.Contains(got, tc.summary) {
			t.Errorf("%s: summary %q", tc.name, got)
		}
		if got := sec.Find(byTestID("grant-expired")).Length() == 1; got != tc.expired {
			t.Errorf("%s: expired badge %v", tc.name, got)
		}
		if got := squish(sec.Find(byTestID("grant-redeemed-by"))); got != tc.redeemedBy {
			t.Errorf("%s: redeemed by %q", tc.name, got)
		}
		if got := squish(sec.Find(byTestID("grant-jti"))); got != g.JTI {
			t.Errorf("%s: jti %q", tc.name, got)
		}
	}
	other := f.page(t, userAlice, "/requests/"+f.byAction["restart"].ID)
	if other.Find(byTestID("section-grant")).Length() != 0 {
		t.Fatal("a grant panel on a request without a grant")
	}
}
