package handlers

import (
	"net/http"
	"strings"
	"testing"
)

// TestErrorNextSteps: a request-shaped address that shows nothing says the
// request may not exist or the account may lack access, and what to do —
// the same words for both, so the page does not reveal which it is.
func TestErrorNextSteps(t *testing.T) {
	for _, route := range []string{"/requests/:id", "/mm/:post_id", "/audit/receipt/:seq/view"} {
		p := withNextStep(problemFor(http.StatusNotFound), route)
		if !strings.Contains(p.message, "may not exist") || !strings.Contains(p.message, "may not have access") {
			t.Errorf("%s: message %q", route, p.message)
		}
		if !strings.Contains(p.next, "sign in with the account") || !strings.Contains(p.next, "ask the requester") {
			t.Errorf("%s: next step %q", route, p.next)
		}
	}
	if p := withNextStep(problemFor(http.StatusNotFound), "/nope"); strings.Contains(p.message, "access") || p.next == "" {
		t.Errorf("plain 404: %+v", p)
	}
	if p := withNextStep(problemFor(http.StatusForbidden), "/audit"); !strings.Contains(p.next, "administrator") {
		t.Errorf("403: %+v", p)
	}
	if p := withNextStep(problemFor(http.StatusConflict), "/requests/:id/decision"); p.next != "" || p.message != problemFor(http.StatusConflict).message {
		t.Errorf("409 changed: %+v", p)
	}
}
