package demoidp_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/countersign/countersign/web/demoidp"
	"github.com/countersign/countersign/web/demoidp/demoidptest"
)

func mergeValues(v url.Values, k, val string) url.Values {
	out := url.Values{}
	for key, vs := range v {
		out[key] = append([]string(nil), vs...)
	}
	out.Set(k, val)
	return out
}

func TestLoginFormRejectsWrongCSRFToken(t *testing.T) {
	t.Parallel()
	e, b, page := startLogin(t)
	f, _ := page.Form("password-form")
	creds := e.login("carol")

	bad := merge(creds, map[string]string{"csrf": f.Fields.Get("csrf") + "x"})
	page = b.MustSubmit(t, f, bad, "")
	if page.Status != http.StatusForbidden || page.Redirect != nil {
		t.Errorf("wrong CSRF token: HTTP %d redirect %v, want 403", page.Status, page.Redirect)
	}
	// The right token from this browser still works afterwards.
	page = b.MustSubmit(t, f, creds, "")
	if _, ok := page.Form("otp-form"); !ok {
		t.Errorf("right CSRF token: HTTP %d, want the TOTP step", page.Status)
	}
}

func TestLoginFormIsBoundToTheBrowser(t *testing.T) {
	t.Parallel()
	// An attacker opens a login and gets the victim's browser to post it
	// (login CSRF): the victim's browser lacks the binding cookie.
	e := newEnv(t, "/idp", nil)
	attacker, victim := e.browser(t), e.browser(t)
	page := attacker.MustGet(t, e.authURL(pkce(verifier)))
	f, _ := page.Form("password-form")
	page = victim.MustSubmit(t, f, e.login("dave"), "")
	if page.Status != http.StatusForbidden || page.Redirect != nil {
		t.Errorf("form posted from another browser: HTTP %d redirect %v, want 403", page.Status, page.Redirect)
	}
	// Opening the attacker's login page in the victim's browser is refused too.
	page = victim.MustGet(t, page.URL.Scheme+"://"+page.URL.Host+e.idp.PathPrefix()+"/login?authRequestID="+url.QueryEscape(f.Fields.Get("authRequestID")))
	if page.Status != http.StatusForbidden {
		t.Errorf("login page of another browser's request: HTTP %d, want 403", page.Status)
	}
}

func TestTooManyFailuresEndTheAttempt(t *testing.T) {
	t.Parallel()
	e, b, page := startLogin(t)
	carol := e.users["carol"]
	for i := 0; i < 5; i++ {
		f, ok := page.Form("password-form")
		if !ok {
			t.Fatalf("attempt %d: no password form (HTTP %d)", i, page.Status)
		}
		page = b.MustSubmit(t, f, map[string]string{"username": carol.Username, "password": "wrong-password"}, "")
	}
	if page.Status != http.StatusTooManyRequests {
		t.Fatalf("after 5 failures: HTTP %d, want 429", page.Status)
	}
	// Even the right password is no use on this attempt any more.
	f, _ := page.Form("password-form")
	if f.Action != nil {
		t.Fatal("a password form is still offered")
	}
}

func TestMFARequestRefusesAccountWithoutTOTP(t *testing.T) {
	t.Parallel()
	users := generateUsers(t)
	users[2].TOTPSecret = "" // carol has no second factor
	e := newEnv(t, "/idp", users)
	ctx := context.Background()

	_, err := e.browser(t).Login(ctx, e.authURL(merge(pkce(verifier), map[string]string{"acr_values": demoidp.ACRMFA})), e.pwd("carol"))
	var refused *demoidptest.RefusedError
	if !errors.As(err, &refused) || refused.Status != http.StatusForbidden {
		t.Errorf("mfa request for a user without TOTP: err = %v, want a 403 refusal", err)
	}
	// Without the mfa request the password alone is enough, with no TOTP step.
	cb, err := e.browser(t).Login(ctx, e.authURL(pkce(verifier)), demoidptest.Credentials{Username: "carol", Password: users[2].Password})
	if err != nil || cb.Query().Get("code") == "" {
		t.Errorf("password-only login: %v", err)
	}
}

func TestInvalidClaimsParameterIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "/idp", nil)
	page := e.browser(t).MustGet(t, e.authURL(merge(pkce(verifier), map[string]string{"claims": "{not json"})))
	if page.Status != http.StatusBadRequest || page.Redirect != nil {
		t.Errorf("HTTP %d redirect %v, want 400", page.Status, page.Redirect)
	}
}

func TestUnknownAuthRequestShowsAnErrorPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "/idp", nil)
	page := e.browser(t).MustGet(t, e.issuer+"/login?authRequestID=nope")
	if page.Status != http.StatusBadRequest || len(page.Forms) != 0 {
		t.Errorf("HTTP %d with %d forms, want 400 and no form", page.Status, len(page.Forms))
	}
}

func TestEssentialACRInClaimsParameterAloneMakesTOTPMandatory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "/idp", nil)
	b := e.browser(t)
	claims := `{"id_token":{"acr":{"essential":true,"values":["` + demoidp.ACRMFA + `"]}}}`
	page := b.MustGet(t, e.authURL(merge(pkce(verifier), map[string]string{"claims": claims})))
	f, ok := page.Form("password-form")
	if !ok {
		t.Fatalf("no login form (HTTP %d)", page.Status)
	}
	page = b.MustSubmit(t, f, e.login("bob"), "")
	otpForm, ok := page.Form("otp-form")
	if !ok {
		t.Fatalf("no TOTP step (HTTP %d)", page.Status)
	}
	for _, btn := range otpForm.Buttons {
		if btn.Value == "skip" {
			t.Fatal("TOTP can be skipped although the claims parameter made acr mfa essential")
		}
	}
	if _, ok := page.TestIDText("otp-required"); !ok {
		t.Error("the page does not say the second factor is required")
	}
}
