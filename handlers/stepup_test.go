package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/web/demoidp"
)

// decisionPath is where the decision forms post.
func decisionPath(id string) string { return "/requests/" + id + "/decision" }

// decided is where a recorded decision sends the browser.
func decided(id, verdict string) string { return "/requests/" + id + "?decided=" + verdict }

func TestFreshStrongSessionDecidesAtOnce(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t)
	r := e.seed(t, "carol", 1)
	v := e.signedIn(t, e.mfa(t, "alice"))

	p := v.post(t, decisionPath(r.ID), v.decisionForm(t, r.ID, "approve"), nil)
	if p.status != http.StatusSeeOther || p.location != decided(r.ID, "approve") {
		t.Fatalf("approve: %d %q (%s)", p.status, p.location, snippet(p.body))
	}
	ds := e.decisions(t, r.ID)
	if len(ds) != 1 || ds[0].Verdict != models.VerdictApprove || ds[0].ACR != demoidp.ACRMFA || ds[0].AMR != "pwd otp mfa" ||
		ds[0].IDTokenHash == "" || ds[0].ApproverID != e.users["alice"].Subject() || ds[0].ContentHash != r.ContentHash {
		t.Fatalf("decisions = %+v", ds)
	}
	e.wantState(t, r.ID, models.StateApproved)
	// The result page is the request page (no inline script).
	if p := v.get(t, p.location); p.status != http.StatusOK || strings.Contains(p.body, "<script>") {
		t.Errorf("result page: %d", p.status)
	}
}

func TestStaleSessionIsSteppedUpAndTheDecisionCarriesTheNewEvidence(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t)
	r := e.seed(t, "carol", 2)
	v := e.signedIn(t, e.mfa(t, "alice"))
	form := v.decisionForm(t, r.ID, "approve")
	form.Set("comment", "checked the OOM graphs")

	// Ten minutes later the login is older than max_age (5 min).
	e.clock.Advance(10 * time.Minute)
	challengedAt := e.clock.Now().Truncate(time.Second)
	p := v.post(t, decisionPath(r.ID), form, nil)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, e.url+"/idp/") {
		t.Fatalf("stale approve: %d %q, want a redirect to the IdP", p.status, p.location)
	}
	q := mustParse(t, p.location).Query()
	for k, want := range map[string]string{"prompt": "login", "max_age": "300", "acr_values": demoidp.ACRMFA, "login_hint": e.users["alice"].Email} {
		if got := q.Get(k); got != want {
			t.Errorf("step-up request %s = %q, want %q", k, got, want)
		}
	}
	if ds := e.decisions(t, r.ID); len(ds) != 0 {
		t.Fatal("a decision was recorded before the step-up")
	}
	before := v.sessionCookie()

	// The IdP asks again (prompt=login), with TOTP, and sends the browser back.
	cb := v.atIdP(t, p.location, e.mfa(t, "alice"))
	p = v.get(t, cb)
	if p.status != http.StatusSeeOther || p.location != decided(r.ID, "approve") {
		t.Fatalf("step-up callback: %d %q (%s)", p.status, p.location, snippet(p.body))
	}
	if after := v.sessionCookie(); after == "" || after == before {
		t.Error("the session id was not rotated at the step-up")
	}
	ds := e.decisions(t, r.ID)
	if len(ds) != 1 {
		t.Fatalf("%d decisions, want 1", len(ds))
	}
	d := ds[0]
	if d.Comment != "checked the OOM graphs" || d.ACR != demoidp.ACRMFA || !strings.Contains(d.AMR, "otp") || d.IDTokenHash == "" {
		t.Errorf("decision = %+v", d)
	}
	if d.AuthTime.Before(challengedAt) {
		t.Errorf("decision auth_time %s is before the challenge %s", d.AuthTime, challengedAt)
	}
	evs := e.auditEvents(t, r.ID)
	last := evs[len(evs)-1]
	if last.Type != "decision.approve" || last.ActorID != e.users["alice"].Subject() {
		t.Fatalf("last audit event %s by %s", last.Type, last.ActorID)
	}
	var payload struct {
		StepUp struct {
			ACR string   `json:"acr"`
			AMR []string `json:"amr"`
			IDT string   `json:"id_token_sha256"`
		} `json:"step_up"`
	}
	if err := json.Unmarshal([]byte(last.Payload), &payload); err != nil {
		t.Fatal(err)
	}
	if payload.StepUp.ACR != demoidp.ACRMFA || payload.StepUp.IDT != d.IDTokenHash || len(payload.StepUp.AMR) == 0 {
		t.Errorf("audit step-up evidence = %+v", payload.StepUp)
	}

	// The pending decision was one-time: replaying the callback records nothing.
	if p := v.get(t, cb); p.status != http.StatusBadRequest {
		t.Errorf("replayed step-up callback: %d, want 400", p.status)
	}
	if ds := e.decisions(t, r.ID); len(ds) != 1 {
		t.Errorf("%d decisions after a replay, want 1", len(ds))
	}

	// A second decision by the same person: a clear 409. (The step-up
	// rotated the CSRF token with the session; take the current one.)
	form.Set("csrf", signoutToken(t, v.get(t, "/")))
	p = v.post(t, decisionPath(r.ID), form, nil)
	if p.status != http.StatusConflict || !strings.Contains(p.text(t, "error-message"), "already decided") {
		t.Errorf("second decision: %d %q", p.status, p.text(t, "error-message"))
	}
	if ds := e.decisions(t, r.ID); len(ds) != 1 {
		t.Errorf("%d decisions after a second attempt, want 1", len(ds))
	}

	// bob completes the 2-of-N.
	b := e.signedIn(t, e.mfa(t, "bob"))
	if p := b.post(t, decisionPath(r.ID), b.decisionForm(t, r.ID, "approve"), nil); p.location != decided(r.ID, "approve") {
		t.Fatalf("bob's approve: %d %q", p.status, p.location)
	}
	e.wantState(t, r.ID, models.StateApproved)
}

func TestPasswordOnlySessionIsSteppedUp(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t)
	r := e.seed(t, "carol", 1)
	v := e.signedIn(t, e.pwd("alice"))
	form := v.decisionForm(t, r.ID, "deny")
	form.Set("comment", "not during the freeze")
	p := v.get(t, v.atIdP(t, v.steppedUp(t, r.ID, form), e.mfa(t, "alice")))
	if p.location != decided(r.ID, "deny") {
		t.Fatalf("after step-up: %d %q", p.status, p.location)
	}
	e.wantState(t, r.ID, models.StateDenied)
}

func TestStepUpByAnotherPersonIsRefused(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t)
	r := e.seed(t, "carol", 1)
	v := e.signedIn(t, e.pwd("alice"))
	// At the IdP's prompt, bob (also an approver) types his credentials.
	p := v.get(t, v.atIdP(t, v.steppedUp(t, r.ID, v.decisionForm(t, r.ID, "approve")), e.mfa(t, "bob")))
	if p.status != http.StatusForbidden || testID(p.doc(t), "decision-refused").Length() != 1 {
		t.Fatalf("step-up by bob for alice: %d (%s)", p.status, snippet(p.body))
	}
	if !strings.Contains(p.text(t, "decision-refused-message"), "different person") {
		t.Errorf("message %q", p.text(t, "decision-refused-message"))
	}
	if href, _ := testID(p.doc(t), "decision-refused-link").Attr("href"); href != "/requests/"+r.ID {
		t.Errorf("link back %q", href)
	}
	if ds := e.decisions(t, r.ID); len(ds) != 0 {
		t.Fatalf("recorded %+v", ds)
	}
	// The session is still alice's, not bob's.
	if name := v.get(t, "/").text(t, "account-name"); !strings.Contains(name, "Alice") {
		t.Errorf("session now shows %q", name)
	}
	if countLogLines(t, e, "step-up refused", "") == 0 {
		t.Error("the refusal is not logged")
	}
}

func TestWeakStepUpIsRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		policy approval.StepUpRule
		creds  func(e *portalEnv, t *testing.T) string // which login answers the step-up
		want   string                                  // query parameter the step-up must send
	}{
		{
			// mfa required through amr; the person skips the TOTP step.
			name:   "password only when otp is required",
			policy: approval.StepUpRule{MaxAge: 5 * time.Minute, AMRAny: []string{"otp"}},
			want:   "max_age=300",
		},
		{
			// An acr the IdP cannot provide: whatever it answers is weaker.
			name:   "acr weaker than required",
			policy: approval.StepUpRule{MaxAge: 5 * time.Minute, ACR: []string{"urn:example:acr:hardware-key"}},
			want:   "acr_values=urn%3Aexample%3Aacr%3Ahardware-key",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newPortalEnvStepUp(t, tc.policy)
			r := e.seed(t, "carol", 1)
			v := e.signedIn(t, e.pwd("alice"))
			p := v.post(t, decisionPath(r.ID), v.decisionForm(t, r.ID, "approve"), nil)
			if p.status != http.StatusSeeOther || !strings.Contains(p.location, tc.want) || !strings.Contains(p.location, "prompt=login") {
				t.Fatalf("approve: %d %q, want a step-up with %s", p.status, p.location, tc.want)
			}
			p = v.get(t, v.atIdP(t, p.location, e.pwd("alice")))
			if p.status != http.StatusForbidden || !strings.Contains(p.text(t, "decision-refused-message"), "not strong enough") {
				t.Fatalf("weak step-up: %d %q", p.status, p.text(t, "decision-refused-message"))
			}
			if ds := e.decisions(t, r.ID); len(ds) != 0 {
				t.Fatalf("recorded %+v", ds)
			}
		})
	}
}

func TestDecisionRefusals(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t)
	own := e.seed(t, "alice", 1)   // alice's own request
	other := e.seed(t, "carol", 2) // someone else's
	v := e.signedIn(t, e.mfa(t, "alice"))
	csrf := signoutToken(t, v.get(t, "/"))
	post := func(id string, vals url.Values) *page {
		vals.Set("csrf", csrf)
		return v.post(t, decisionPath(id), vals, nil)
	}

	t.Run("self-approval", func(t *testing.T) {
		p := post(own.ID, url.Values{"verdict": {"approve"}, "content_hash": {own.ContentHash}})
		if p.status != http.StatusForbidden || !strings.Contains(p.text(t, "error-message"), "You made this request") {
			t.Fatalf("self-approval: %d %q", p.status, p.text(t, "error-message"))
		}
		if ds := e.decisions(t, own.ID); len(ds) != 0 {
			t.Fatalf("recorded %+v", ds)
		}
	})
	t.Run("nonexistent request", func(t *testing.T) {
		p := post("REQ-DOESNOTEXIST", url.Values{"verdict": {"approve"}, "content_hash": {own.ContentHash}})
		if p.status != http.StatusNotFound {
			t.Fatalf("status %d, want 404", p.status)
		}
	})
	t.Run("content changed", func(t *testing.T) {
		p := post(other.ID, url.Values{"verdict": {"approve"}, "content_hash": {strings.Repeat("0", 64)}})
		if p.status != http.StatusConflict || testID(p.doc(t), "decision-changed").Length() != 1 {
			t.Fatalf("status %d (%s)", p.status, snippet(p.body))
		}
		if href, _ := testID(p.doc(t), "decision-changed-link").Attr("href"); href != "/requests/"+other.ID {
			t.Errorf("link to the current request %q", href)
		}
		if ds := e.decisions(t, other.ID); len(ds) != 0 {
			t.Fatalf("recorded %+v", ds)
		}
	})
	t.Run("deny without a reason", func(t *testing.T) {
		p := post(other.ID, url.Values{"verdict": {"deny"}, "content_hash": {other.ContentHash}})
		if p.status != http.StatusBadRequest || !strings.Contains(p.text(t, "error-message"), "reason") {
			t.Fatalf("status %d %q", p.status, p.text(t, "error-message"))
		}
	})
	t.Run("unknown verdict", func(t *testing.T) {
		if p := post(other.ID, url.Values{"verdict": {"approve!"}, "content_hash": {other.ContentHash}}); p.status != http.StatusBadRequest {
			t.Fatalf("status %d", p.status)
		}
	})
	if ds := e.decisions(t, other.ID); len(ds) != 0 {
		t.Errorf("refusals recorded %+v", ds)
	}
}

func TestStepUpAnsweredWithAnEarlierAuthenticationIsRefused(t *testing.T) {
	t.Parallel()
	// The IdP's auth_time lies two minutes before the portal's challenge:
	// fresh enough for max_age, but not a new authentication.
	e := newPortalEnvWithIdPLag(t, 2*time.Minute)
	r := e.seed(t, "carol", 1)
	v := e.signedIn(t, e.pwd("alice"))
	p := v.get(t, v.atIdP(t, v.steppedUp(t, r.ID, v.decisionForm(t, r.ID, "approve")), e.mfa(t, "alice")))
	if p.status != http.StatusForbidden || !strings.Contains(p.text(t, "decision-refused-message"), "new sign-in") {
		t.Fatalf("earlier authentication: %d %q", p.status, p.text(t, "decision-refused-message"))
	}
	if ds := e.decisions(t, r.ID); len(ds) != 0 {
		t.Fatalf("recorded %+v", ds)
	}
}
