package handlers

import (
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models/execution"
)

type fakeExecutions = records[execution.Execution]

func TestRequestPageShowsTheExecutionAfterTheApprovedContent(t *testing.T) {
	execs := fakeExecutions{}
	f := newRequestsFixture(t, RequestsOptions{Executions: execs})
	done := f.byAction["flush-cache"]
	at := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	execs[done.ID] = &execution.Execution{
		RequestID: done.ID, Executor: "example", Mode: execution.ModeWebhook, State: execution.StateSucceeded,
		Attempts: 2, Output: `{"flushed":412}`, FinishedAt: &at,
	}
	doc := f.page(t, userAlice, "/requests/"+done.ID)
	sec := doc.Find(byTestID("section-execution"))
	if sec.Length() != 1 || !strings.Contains(squish(sec), "after approval") || !strings.Contains(squish(sec), "not part of the approved content") {
		t.Fatalf("execution section: %q", squish(sec))
	}
	if got := squish(sec.Find(byTestID("execution-state"))); got != "succeeded, 2 attempt(s)" {
		t.Fatalf("state %q", got)
	}
	if got := strings.Join(strings.Fields(sec.Find(byTestID("execution-output")).Text()), ""); got != `{"flushed":412}` {
		t.Fatalf("output %q", got)
	}
	// It comes after the tool chain and the content hash is still verified.
	html, _ := doc.Html()
	if strings.Index(html, `data-testid="section-toolchain"`) > strings.Index(html, `data-testid="section-execution"`) {
		t.Fatal("execution shown before the approved tool chain")
	}
	if doc.Find(byTestID("content-verified")).Length() != 1 {
		t.Fatal("content no longer verifies")
	}
	other := f.page(t, userAlice, "/requests/"+f.byAction["restart"].ID)
	if other.Find(byTestID("section-execution")).Length() != 0 {
		t.Fatal("an execution panel on a request that did not run")
	}
}
