package handlers_test

import (
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countersign/countersign/handlers"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/web/demoidp"
)

// TestStepUpUsesTheRolesOfItsOwnToken: roles follow the IdP. alice signs
// in while her group grants the approver role; the role is then withdrawn
// (as when an administrator narrows the policy's idp_groups or removes her
// from the group). The step-up's fresh token maps her groups again: the
// decision is refused for lack of the role, nothing is recorded, and the
// session no longer carries the role.
func TestStepUpUsesTheRolesOfItsOwnToken(t *testing.T) {
	t.Parallel()
	var withdrawn atomic.Bool
	e := newPortalEnv(t, func(o *handlers.Options) {
		o.Portal.Roles = nil
		o.Portal.PolicyRoles = func(groups []string) []string {
			if slices.Contains(groups, "sre") && !withdrawn.Load() {
				return []string{"approver"}
			}
			return nil
		}
	})
	r := e.seed(t, "carol", 2)
	v := e.visitor(t)
	v.mustLogin(t, e.mfa(t, "alice"), "/", "/")
	form := v.decisionForm(t, r.ID, "approve")

	withdrawn.Store(true)
	e.clock.Advance(10 * time.Minute) // past max_age: the decision needs a step-up
	p := v.get(t, v.atIdP(t, v.steppedUp(t, r.ID, form), e.mfa(t, "alice")))
	// Without a role she may not even see the request any more (only
	// requesters see their own): 404, as for any request out of reach.
	if p.status != http.StatusNotFound {
		t.Fatalf("step-up after the role was withdrawn: %d %q (%s), want 404", p.status, p.location, snippet(p.body))
	}
	if ds := e.decisions(t, r.ID); len(ds) != 0 {
		t.Fatalf("%d decisions recorded with a withdrawn role", len(ds))
	}
	if !strings.Contains(e.logs.String(), "decision refused") {
		t.Error("the refusal was not logged")
	}
	// The session carries the new login's roles: the request is out of
	// her reach now, where the old session showed it with a decision form.
	if page := v.get(t, "/requests/"+r.ID); page.status != http.StatusNotFound {
		t.Errorf("request page after the step-up: %d, want 404", page.status)
	}
}

// TestSignInCanAskForTheStepUpStrength: with Portal.StepUpAtSignIn the
// sign-in asks for the decisions' max_age and acr up front, so the
// person's first decision needs no second login; once that sign-in has
// aged past max_age, a decision is stepped up as usual. (That a weaker
// answer still signs in is oidcrp's TestAdvisoryLoginAcceptsAWeakerAnswer.)
func TestSignInCanAskForTheStepUpStrength(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t, func(o *handlers.Options) { o.Portal.StepUpAtSignIn = true })
	r := e.seed(t, "carol", 2)
	v := e.visitor(t)
	authURL := v.startLogin(t, "/")
	q := mustParse(t, authURL).Query()
	if q.Get("max_age") != "300" || q.Get("acr_values") != demoidp.ACRMFA || q.Has("prompt") {
		t.Fatalf("sign-in request asks max_age=%q acr_values=%q prompt=%q", q.Get("max_age"), q.Get("acr_values"), q.Get("prompt"))
	}
	if p := v.get(t, v.atIdP(t, authURL, e.mfa(t, "alice"))); p.status != http.StatusSeeOther || p.location != "/" {
		t.Fatalf("sign-in: %d %q", p.status, p.location)
	}
	if p := v.post(t, decisionPath(r.ID), v.decisionForm(t, r.ID, "approve"), nil); p.location != decided(r.ID, "approve") {
		t.Fatalf("first decision after a strong sign-in: %d %q, want it recorded at once", p.status, p.location)
	}

	// Ten minutes later bob's sign-in is past max_age.
	b := e.visitor(t)
	b.mustLogin(t, e.mfa(t, "bob"), "/", "/")
	e.clock.Advance(10 * time.Minute)
	b.steppedUp(t, r.ID, b.decisionForm(t, r.ID, "approve"))
}

// TestPasswordOnlyDecisionsSaySo: with a step-up rule that asks for no
// acr and no amr (step_up.password_only), a password sign-in decides, and
// the decision, its audit event and the request page all say the
// strength was a password re-entry only; a decision under a rule with an
// acr does not.
func TestPasswordOnlyDecisionsSaySo(t *testing.T) {
	t.Parallel()
	e := newPortalEnvStepUp(t, approval.StepUpRule{MaxAge: 5 * time.Minute})
	r := e.seed(t, "carol", 1)
	v := e.signedIn(t, e.pwd("alice"))
	if p := v.post(t, decisionPath(r.ID), v.decisionForm(t, r.ID, "approve"), nil); p.location != decided(r.ID, "approve") {
		t.Fatalf("approve: %d %q (%s)", p.status, p.location, snippet(p.body))
	}
	ds := e.decisions(t, r.ID)
	if len(ds) != 1 || !ds[0].PasswordOnly {
		t.Fatalf("decisions = %+v, want one marked password-only", ds)
	}
	evs := e.auditEvents(t, r.ID)
	var decided string
	for _, ev := range evs {
		if ev.Type == "decision.approve" {
			decided = ev.Payload
		}
	}
	if !strings.Contains(decided, `"strength":"password re-entry only"`) {
		t.Errorf("decision event payload %s does not state the strength", decided)
	}
	page := v.get(t, "/requests/"+r.ID)
	if got := page.text(t, "step-up-password-only"); got != "strength: password re-entry only" {
		t.Errorf("request page strength = %q", got)
	}

	strong := newPortalEnv(t)
	r2 := strong.seed(t, "carol", 1)
	w := strong.signedIn(t, strong.mfa(t, "alice"))
	w.post(t, decisionPath(r2.ID), w.decisionForm(t, r2.ID, "approve"), nil)
	if ds := strong.decisions(t, r2.ID); len(ds) != 1 || ds[0].PasswordOnly {
		t.Fatalf("strong decisions = %+v", ds)
	}
	if n := testID(w.get(t, "/requests/"+r2.ID).doc(t), "step-up-password-only").Length(); n != 0 {
		t.Errorf("a strong decision shows the password-only mark")
	}
}
