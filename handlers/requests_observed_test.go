package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
)

// The request page tells calls Countersign observed through its MCP
// gateway from calls the agent only reported.
func TestRequestPageTellsObservedFromReportedCalls(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	in := richRequest(time.Now())
	in.ToolCalls[2].ObservedBy = models.ToolCallObserved // c-3, digest only
	r, err := f.svc.Create(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	doc := f.page(t, userAlice, "/requests/"+r.ID)
	calls := doc.Find(byTestID("tool-call"))
	if calls.Length() != 4 {
		t.Fatalf("%d calls", calls.Length())
	}
	for i, want := range []string{"reported", "reported", "observed", "reported"} {
		badge := calls.Eq(i).Find(byTestID("tool-origin"))
		if got := badge.AttrOr("data-origin", ""); got != want {
			t.Errorf("call %d origin %q, want %q", i+1, got, want)
		}
	}
	if got := squish(calls.Eq(2).Find(byTestID("tool-origin"))); !strings.EqualFold(got, "observed by Countersign") {
		t.Errorf("observed badge says %q", got)
	}
	if got := squish(calls.Eq(0).Find(byTestID("tool-origin"))); !strings.EqualFold(got, "reported by the agent") {
		t.Errorf("reported badge says %q", got)
	}
	if got := squish(calls.Eq(2).Find(byTestID("tool-output-digest"))); !strings.Contains(got, "Countersign kept a digest") {
		t.Errorf("observed digest line %q", got)
	}
}
