package handlers_test

import (
	"context"
	"testing"
	"time"

	"github.com/countersign/countersign/models/execution"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/models/sweep"
)

// An agent redeems and goes silent: the sweeper (its clock two hours
// ahead, past the 1h result timeout) ends the request failed; the request
// page shows why after the approved content, and the late result is a
// 409 with reason result_timed_out.
func TestAgentResultAfterTheTimeoutIsRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newLoopEnv(t, b)
		id, key, tok := e.approvedGrant()
		e.redeemByHash(id, key, tok)
		ahead := func() time.Time { return time.Now().Add(2 * time.Hour) }
		sw := sweep.New(e.store, e.svc, e.grants, sweep.Config{Now: ahead})
		if rep, err := sw.RunOnce(context.Background()); err != nil || rep.UnreportedResults != 1 {
			t.Fatalf("sweep: %+v %v", rep, err)
		}
		body := lastMinute("ok", map[string]any{"output": map[string]any{"restarted": true}})
		code, out := e.api("POST", "/api/v1/requests/"+id+"/result", key, body, nil)
		if code != 409 || out["reason"] != string(execution.RefusedTimedOut) {
			t.Fatalf("late result: %d %v", code, out)
		}
		_, show := e.api("GET", "/api/v1/requests/"+id, key, nil, nil)
		exec, _ := show["execution"].(map[string]any)
		want := "no result reported within 1h after the grant was redeemed"
		if show["state"] != "failed" || exec["state"] != "failed" || exec["error"] != want {
			t.Fatalf("request after the late result: %v", show)
		}
		doc, _ := e.page(id)
		if text(doc, "execution-error") != want || text(doc, "execution-reported-by") != "Countersign: no result came in time" || doc.Find(testid("execution-output")).Length() != 0 {
			t.Fatalf("page: error %q reported by %q", text(doc, "execution-error"), text(doc, "execution-reported-by"))
		}
	})
}
