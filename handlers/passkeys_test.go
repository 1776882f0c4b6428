package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/handlers"
	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/passkey"
	"github.com/countersign/countersign/models/passkey/passkeytest"
	"github.com/countersign/countersign/web/session"
)

// pkRP is the relying party of the passkey tests: the software
// authenticator signs for it, whatever address the test server has.
var pkRP = passkey.RP{ID: "localhost", Origins: []string{"http://localhost:8080"}}

// newPasskeyPortal starts a portal whose decisions accept passkeys.
func newPasskeyPortal(t *testing.T) *portalEnv {
	t.Helper()
	return newPortalEnv(t, func(o *handlers.Options) {
		p := o.Portal
		pks, err := passkey.New(p.Store, passkey.Config{RP: pkRP, Now: p.Now, Fresh: func(a passkey.Auth, at time.Time) error {
			return p.Approvals.StepUpFor(nil).Check(approval.StepUp{AuthTime: a.Time, ACR: a.ACR, AMR: a.AMR}, at)
		}})
		if err != nil {
			t.Fatal(err)
		}
		p.Passkeys = pks
		p.Approvals = approval.New(p.Store, approval.Config{Now: p.Now, ApproverRoles: []string{"approver"}, StepUp: p.Approvals.StepUpFor(nil), Passkeys: pks})
	})
}

// csrf is the visitor's CSRF token, read from the passkeys page.
func (v *visitor) csrf(t *testing.T) string {
	t.Helper()
	p := v.get(t, "/passkeys")
	tok, _ := p.doc(t).Find(`input[name="` + session.CSRFField + `"]`).First().Attr("value")
	if tok == "" {
		t.Fatalf("no CSRF token on /passkeys (%d)", p.status)
	}
	return tok
}

func (v *visitor) postJSON(t *testing.T, path string, form url.Values, out any) int {
	t.Helper()
	p := v.post(t, path, form, map[string]string{"Accept": "application/json"})
	if err := json.Unmarshal([]byte(p.body), out); err != nil {
		t.Fatalf("%s: %d %s", path, p.status, snippet(p.body))
	}
	return p.status
}

// enrolPasskey runs the enrolment endpoints with a software authenticator.
func (v *visitor) enrolPasskey(t *testing.T, name string) *passkeytest.Authenticator {
	t.Helper()
	tok := v.csrf(t)
	var begin struct {
		ID      string `json:"id"`
		Options struct {
			PublicKey struct {
				Challenge string `json:"challenge"`
			} `json:"publicKey"`
		} `json:"options"`
	}
	if st := v.postJSON(t, "/passkeys/enroll/begin", url.Values{session.CSRFField: {tok}}, &begin); st != http.StatusOK {
		t.Fatalf("begin: %d", st)
	}
	ch, err := passkey.Decode(begin.Options.PublicKey.Challenge)
	if err != nil || len(ch) < 16 {
		t.Fatalf("challenge %q", begin.Options.PublicKey.Challenge)
	}
	a := passkeytest.New(pkRP.ID)
	var done map[string]string
	st := v.postJSON(t, "/passkeys/enroll/finish", url.Values{session.CSRFField: {tok}, "id": {begin.ID}, "name": {name}, "credential": {string(a.Register(ch, pkRP.Origins[0]))}}, &done)
	if st != http.StatusOK || done["next"] != "/passkeys?done=enrolled" {
		t.Fatalf("finish: %d %v", st, done)
	}
	return a
}

func TestPasskeyEnrolApproveRevokeOverHTTP(t *testing.T) {
	e := newPasskeyPortal(t)
	bob := e.signedIn(t, e.mfa(t, "bob"))
	a := bob.enrolPasskey(t, "laptop")
	page := bob.get(t, "/passkeys?done=enrolled")
	if got := page.text(t, "passkey-name"); got != "laptop" {
		t.Fatalf("passkey list shows %q", got)
	}

	r := e.seed(t, "carol", 1)
	form := bob.decisionForm(t, r.ID, "approve")
	if _, ok := form["passkey_nonce"]; !ok {
		t.Fatal("the approve form offers no passkey")
	}
	form.Set("comment", "checked")
	var ch struct {
		Statement string `json:"statement"`
		Nonce     string `json:"nonce"`
	}
	if st := bob.postJSON(t, "/requests/"+r.ID+"/passkey/challenge", form, &ch); st != http.StatusOK {
		t.Fatalf("challenge: %d", st)
	}
	stmt, err := passkey.ParseStatement(ch.Statement)
	if err != nil || stmt.RequestID != r.ID || stmt.ContentHash != r.ContentHash || stmt.Verdict != "approve" || stmt.Nonce != ch.Nonce {
		t.Fatalf("statement %+v %v", stmt, err)
	}
	as := a.SignStatement(stmt, pkRP.Origins[0])
	form.Set("passkey_nonce", ch.Nonce)
	form.Set("passkey_credential_id", as.CredentialID)
	form.Set("passkey_authenticator_data", as.AuthenticatorData)
	form.Set("passkey_client_data_json", as.ClientDataJSON)
	form.Set("passkey_signature", as.Signature)
	if p := bob.post(t, decisionPath(r.ID), form, nil); p.status != http.StatusSeeOther || !strings.Contains(p.location, "decided=approve") {
		t.Fatalf("decision: %d %q %s", p.status, p.location, snippet(p.body))
	}
	ds := e.decisions(t, r.ID)
	if len(ds) != 1 || ds[0].PasskeyCredentialID != a.CredentialID() || ds[0].PasskeyStatement != ch.Statement {
		t.Fatalf("decisions %+v", ds)
	}
	shown := bob.get(t, "/requests/"+r.ID)
	if !strings.Contains(shown.text(t, "step-up-passkey"), a.CredentialID()) || !strings.Contains(shown.text(t, "step-up-passkey-statement"), r.ContentHash) {
		t.Fatal("the request page does not show the passkey signature")
	}

	// A request whose rule requires a passkey refuses the plain form
	// (no detour to the IdP) and records nothing.
	strict := e.seed(t, "carol", 1)
	if err := e.store.DB(context.Background()).Model(&models.Request{}).Where("id = ?", strict.ID).Update("step_up_passkey", true).Error; err != nil {
		t.Fatal(err)
	}
	plain := bob.decisionForm(t, strict.ID, "approve")
	if testID(bob.get(t, "/requests/"+strict.ID).doc(t), "approve-button").Length() != 0 {
		t.Error("a passkey-only request offers the plain Approve button")
	}
	if p := bob.post(t, decisionPath(strict.ID), plain, nil); p.status != http.StatusForbidden || len(e.decisions(t, strict.ID)) != 0 {
		t.Fatalf("plain decision on a passkey-only request: %d %q", p.status, p.location)
	}

	// Enrolment needs the CSRF token like every form.
	if p := bob.post(t, "/passkeys/enroll/begin", url.Values{}, nil); p.status != http.StatusForbidden {
		t.Fatalf("begin without CSRF: %d", p.status)
	}

	// Revoked, the passkey signs nothing any more: no challenge is issued.
	doc := bob.get(t, "/passkeys").doc(t)
	action, _ := testID(doc, "passkey-revoke-form").Attr("action")
	if p := bob.post(t, action, url.Values{session.CSRFField: {bob.csrf(t)}}, nil); p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", p.status, snippet(p.body))
	}
	r2 := e.seed(t, "carol", 1)
	form2 := bob.decisionForm(t, r2.ID, "approve")
	if _, ok := form2["passkey_nonce"]; ok {
		t.Fatal("a revoked passkey is still offered")
	}
	var refusal map[string]string
	if st := bob.postJSON(t, "/requests/"+r2.ID+"/passkey/challenge", form2, &refusal); st != http.StatusForbidden || !strings.Contains(refusal["error"], "not enrolled") {
		t.Fatalf("challenge after revocation: %d %v", st, refusal)
	}
}
