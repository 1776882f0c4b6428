package oidcrp

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/countersign/countersign/web/demoidp"
	"github.com/countersign/countersign/web/demoidp/demoidptest"
)

func TestLoginRoundTripPasswordOnly(t *testing.T) {
	t.Parallel()
	e := newIDPEnv(t)
	rp := e.portal(t)
	before := e.clock.Now().Truncate(time.Second)
	id := login(t, rp, e.browser(t), AuthOptions{}, e.pwd("carol"))
	after := e.clock.Now()

	carol := e.users["carol"]
	if id.Subject != carol.Subject() || id.Issuer != e.issuer {
		t.Errorf("iss/sub = %q/%q, want %q/%q", id.Issuer, id.Subject, e.issuer, carol.Subject())
	}
	if id.PreferredUsername != "carol" || id.Name != carol.DisplayName || id.Email != carol.Email {
		t.Errorf("profile = %q %q %q", id.PreferredUsername, id.Name, id.Email)
	}
	if !slices.Equal(id.Groups, []string{"dev"}) {
		t.Errorf("groups = %q, want [dev]", id.Groups)
	}
	if id.ACR != demoidp.ACRPassword || !slices.Equal(id.AMR, []string{"pwd"}) {
		t.Errorf("acr/amr = %q %q, want password only", id.ACR, id.AMR)
	}
	if id.AuthTime.Before(before) || id.AuthTime.After(after) {
		t.Errorf("auth_time %s not within the login [%s, %s]", id.AuthTime, before, after)
	}
	sum := sha256.Sum256([]byte(id.RawIDToken))
	if id.RawIDToken == "" || id.IDTokenHash != hex.EncodeToString(sum[:]) {
		t.Errorf("IDTokenHash does not hash RawIDToken")
	}
	// The raw token itself carries the claims the portal's checks need.
	raw := JWTPart(t, id.RawIDToken, 1)
	for _, k := range []string{"azp", "nonce", "auth_time", "acr", "amr", "groups", "sub"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("ID token lacks %s", k)
		}
	}
	if raw["azp"] != portalClientID {
		t.Errorf("azp = %v, want %s", raw["azp"], portalClientID)
	}
}

// JWTPart decodes the header (0) or payload (1) of a JWT without
// verifying it (the relying party under test already did). It is exported
// for the package's external tests too.
func JWTPart(t *testing.T, jwt string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("JWT has %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLoginRoundTripWithTOTP(t *testing.T) {
	t.Parallel()
	e := newIDPEnv(t)
	id := login(t, e.portal(t), e.browser(t), AuthOptions{}, e.mfa(t, "alice"))
	if id.ACR != demoidp.ACRMFA || !slices.Equal(id.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Errorf("acr/amr = %q %q, want mfa", id.ACR, id.AMR)
	}
	if !slices.Equal(id.Groups, []string{"sre"}) || id.Subject != e.users["alice"].Subject() {
		t.Errorf("groups/sub = %q/%q", id.Groups, id.Subject)
	}
}

func TestSSOReuseAndPromptLoginForcesReauthentication(t *testing.T) {
	t.Parallel()
	e, rp, b, first := signedIn(t, "bob", 2*time.Minute)

	// Without prompt the IdP session answers: no form, same auth_time.
	pending, page := beginIn(t, rp, b, AuthOptions{})
	if page.Redirect == nil {
		t.Fatalf("expected SSO (redirect without a form), got HTTP %d with forms %v", page.Status, page.Forms)
	}
	sso := complete(t, rp, pending, page.Redirect)
	if !sso.AuthTime.Equal(first.AuthTime) {
		t.Errorf("SSO auth_time = %s, want the original %s", sso.AuthTime, first.AuthTime)
	}

	// prompt=login: the same browser, with its IdP session, must log in again.
	pending, page = beginIn(t, rp, b, AuthOptions{Prompt: "login"})
	if _, ok := page.Form("password-form"); !ok || page.Redirect != nil {
		t.Fatalf("prompt=login did not show the password form (redirect=%v)", page.Redirect)
	}
	again := continueLogin(t, rp, b, pending, page, e.pwd("bob"))
	if !again.AuthTime.After(first.AuthTime) {
		t.Errorf("after prompt=login auth_time %s is not after the first login %s", again.AuthTime, first.AuthTime)
	}
}

func TestMaxAgeSetsAndChecksAuthTime(t *testing.T) {
	t.Parallel()
	e, rp, b, first := signedIn(t, "dave", 10*time.Minute)

	// A generous max_age lets the 10-minute-old session answer.
	old := login(t, rp, b, AuthOptions{MaxAge: dur(time.Hour)}, demoidptest.Credentials{})
	if !old.AuthTime.Equal(first.AuthTime) {
		t.Fatalf("auth_time = %s, want the session's %s", old.AuthTime, first.AuthTime)
	}
	// Asked with a 5-minute bound, that answer would be refused.
	if err := checkFreshness(old.AuthTime, 5*time.Minute, e.clock.Now(), rp.cfg.ClockSkew); !errors.Is(err, ErrStaleAuth) {
		t.Errorf("freshness of a 10-minute-old login = %v, want ErrStaleAuth", err)
	}

	// A tight max_age makes the IdP ask again, and the new auth_time is fresh.
	pending, page := beginIn(t, rp, b, AuthOptions{MaxAge: dur(5 * time.Minute)})
	if _, ok := page.Form("password-form"); !ok {
		t.Fatalf("max_age=300 with a 10-minute-old session did not ask to log in (redirect=%v)", page.Redirect)
	}
	fresh := continueLogin(t, rp, b, pending, page, e.pwd("dave"))
	if e.clock.Now().Sub(fresh.AuthTime) > 5*time.Minute || !fresh.AuthTime.After(first.AuthTime) {
		t.Errorf("auth_time %s is not a fresh login", fresh.AuthTime)
	}
	if err := checkFreshness(fresh.AuthTime, 5*time.Minute, e.clock.Now(), rp.cfg.ClockSkew); err != nil {
		t.Errorf("freshness of a fresh login: %v", err)
	}
}

func TestACRValuesMFAMakesTOTPMandatory(t *testing.T) {
	t.Parallel()
	for _, essential := range []bool{false, true} {
		name := "acr_values"
		if essential {
			name = "essential claims parameter"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newIDPEnv(t)
			rp, b := e.portal(t), e.browser(t)
			// A password-only IdP session must not satisfy an mfa request.
			login(t, rp, b, AuthOptions{}, e.pwd("alice"))

			opts := AuthOptions{Prompt: "", ACRValues: []string{demoidp.ACRMFA}, EssentialACR: essential}
			pending, page := beginIn(t, rp, b, opts)
			pw, ok := page.Form("password-form")
			if !ok {
				t.Fatalf("mfa request answered from a password-only session (redirect=%v)", page.Redirect)
			}
			alice := e.users["alice"]
			page = b.MustSubmit(t, pw, map[string]string{"username": alice.Username, "password": alice.Password}, "")
			otpForm, ok := page.Form("otp-form")
			if !ok {
				t.Fatalf("no TOTP step after the password (status %d)", page.Status)
			}
			for _, btn := range otpForm.Buttons {
				if btn.Value == "skip" {
					t.Fatal("the TOTP step offers a skip button although mfa was asked")
				}
			}
			// Pressing a forged skip button is refused too.
			forged := otpForm
			forged.Buttons = append(forged.Buttons, demoidptest.Button{Name: "action", Value: "skip"})
			page = b.MustSubmit(t, forged, nil, "skip")
			if page.Redirect != nil || page.Status != http.StatusForbidden {
				t.Fatalf("forged skip: status %d, redirect %v; want 403 and no redirect", page.Status, page.Redirect)
			}
			otpForm, _ = page.Form("otp-form")
			page = b.MustSubmit(t, otpForm, map[string]string{"code": e.code(t, "alice")}, "verify")
			if page.Redirect == nil {
				t.Fatalf("valid TOTP code did not finish the login (status %d)", page.Status)
			}
			id := complete(t, rp, pending, page.Redirect)
			if id.ACR != demoidp.ACRMFA || !slices.Contains(id.AMR, "otp") {
				t.Errorf("acr/amr = %q %q, want mfa", id.ACR, id.AMR)
			}
		})
	}
}

func TestWeakACRFromIdPSessionIsRejectedByRP(t *testing.T) {
	t.Parallel()
	// The RP must check the acr it gets, not trust that the IdP honoured
	// acr_values: ask for a value the demo IdP does not know, so it
	// answers with the pwd acr, and expect ErrWeakACR.
	e := newIDPEnv(t)
	_, err := tryLogin(t, e.portal(t), e.browser(t), AuthOptions{ACRValues: []string{"urn:example:acr:hardware-key"}}, e.pwd("carol"))
	if !errors.Is(err, ErrWeakACR) {
		t.Fatalf("err = %v, want ErrWeakACR", err)
	}
}

func TestForgedStateIsRejected(t *testing.T) {
	t.Parallel()
	e := newIDPEnv(t)
	rp, b := e.portal(t), e.browser(t)
	pending, cb := e.carolCallback(t, rp, b)
	q := cb.Query()
	q.Set("state", pending.State[:len(pending.State)-1]+"x")
	wantRefused(t, rp, pending, q, ErrStateMismatch, "forged state")
	// Another login's pending (the attacker's) does not match this callback.
	_, otherPending := mustBegin(t, rp, AuthOptions{})
	wantRefused(t, rp, otherPending, cb.Query(), ErrStateMismatch, "crossed pending")
	wantRefused(t, rp, Pending{}, cb.Query(), ErrStateMismatch, "no pending")
}

func TestTamperedNonceIsRejected(t *testing.T) {
	t.Parallel()
	e := newIDPEnv(t)
	rp, b := e.portal(t), e.browser(t)
	pending, cb := e.carolCallback(t, rp, b)
	pending.Nonce = "not-the-nonce-that-was-sent-to-the-idp"
	wantRefused(t, rp, pending, cb.Query(), ErrNonceMismatch, "tampered nonce")
}

func TestTokenOfAnotherClientIsRejected(t *testing.T) {
	t.Parallel()
	e := newIDPEnv(t)
	portal := e.portal(t)
	other := e.rp(t, otherClientID, otherClientSecret, otherRedirect)
	ctx := context.Background()

	// A real login at the other client gives a real ID token for it.
	otherPending, cb := e.carolCallback(t, other, e.browser(t))
	assertCallback(t, cb, otherRedirect)
	otherID, err := other.Complete(ctx, otherPending, cb.Query())
	if err != nil {
		t.Fatal(err)
	}
	// Fed to the portal's RP (with a matching nonce, so only the
	// audience can be wrong) it is refused.
	_, err = portal.verifyIDToken(ctx, otherID.RawIDToken, &oauth2.Token{}, Pending{Nonce: otherPending.Nonce})
	if !errors.Is(err, ErrAudience) {
		t.Errorf("other client's ID token: err = %v, want ErrAudience", err)
	}

	// And the other client's code cannot be redeemed by the portal.
	otherPending, cb = e.carolCallback(t, other, e.browser(t))
	_, portalPending := mustBegin(t, portal, AuthOptions{})
	portalPending.State = otherPending.State
	wantRefused(t, portal, portalPending, cb.Query(), ErrExchange, "other client's code at the portal")
}

func TestCodeCannotBeRedeemedTwice(t *testing.T) {
	t.Parallel()
	e := newIDPEnv(t)
	rp, ctx := e.portal(t), context.Background()
	pending, cb := e.carolCallback(t, rp, e.browser(t))
	if _, err := rp.Complete(ctx, pending, cb.Query()); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, rp, pending, cb.Query(), ErrExchange, "second redemption")
}

func TestWrongPasswordAndWrongTOTPAreRefused(t *testing.T) {
	t.Parallel()
	e := newIDPEnv(t)
	rp := e.portal(t)
	alice := e.users["alice"]

	_, err := tryLogin(t, rp, e.browser(t), AuthOptions{}, demoidptest.Credentials{Username: "alice", Password: alice.Password + "x", SkipTOTP: true})
	var refused *demoidptest.RefusedError
	if !errors.As(err, &refused) || refused.Step != "password" || refused.Status != http.StatusUnauthorized {
		t.Errorf("wrong password: err = %v, want a 401 refusal at the password step", err)
	}
	_, err = tryLogin(t, rp, e.browser(t), AuthOptions{}, demoidptest.Credentials{Username: "mallory", Password: alice.Password, SkipTOTP: true})
	if !errors.As(err, &refused) || refused.Step != "password" {
		t.Errorf("unknown user: err = %v, want a refusal at the password step", err)
	}

	wrong := e.code(t, "alice")
	wrong = string('0'+(wrong[0]-'0'+1)%10) + wrong[1:]
	_, err = tryLogin(t, rp, e.browser(t), AuthOptions{}, demoidptest.Credentials{Username: "alice", Password: alice.Password, TOTPCode: wrong})
	if !errors.As(err, &refused) || refused.Step != "otp" || refused.Status != http.StatusUnauthorized {
		t.Errorf("wrong TOTP: err = %v, want a 401 refusal at the otp step", err)
	}
}

func TestTOTPCodeCannotBeReplayed(t *testing.T) {
	t.Parallel()
	e := newIDPEnv(t)
	rp := e.portal(t)
	creds := e.mfa(t, "bob")
	login(t, rp, e.browser(t), AuthOptions{}, creds)
	// Same code, another browser, same time step: refused.
	_, err := tryLogin(t, rp, e.browser(t), AuthOptions{}, creds)
	if !errors.Is(err, demoidptest.ErrLoginRefused) {
		t.Fatalf("replayed TOTP code: err = %v, want a refusal", err)
	}
	// The next time step's code works.
	e.clock.Advance(30 * time.Second)
	login(t, rp, e.browser(t), AuthOptions{}, e.mfa(t, "bob"))
}

func TestEndSessionURLLogsOutOfTheIdP(t *testing.T) {
	t.Parallel()
	e := newIDPEnv(t)
	rp, b := e.portal(t), e.browser(t)
	id := login(t, rp, b, AuthOptions{}, e.pwd("carol"))

	// Keep the IdP session cookie, to replay it after logout.
	idpURL, _ := url.Parse(e.issuer + "/")
	saved := b.Client().Jar.Cookies(idpURL)
	if len(saved) == 0 {
		t.Fatal("no IdP cookies after login")
	}

	logoutURL, ok := rp.EndSessionURL(id.RawIDToken, portalLoggedOut)
	if !ok {
		t.Fatal("demo IdP advertises end_session_endpoint, but EndSessionURL says no")
	}
	page := b.MustGet(t, logoutURL)
	if page.Redirect == nil || page.Redirect.String() != portalLoggedOut {
		t.Fatalf("logout ended at %v (status %d), want the post-logout redirect %s", page.Redirect, page.Status, portalLoggedOut)
	}
	// The IdP session is gone: the next login shows the form again.
	_, page = beginIn(t, rp, b, AuthOptions{})
	if _, ok := page.Form("password-form"); !ok {
		t.Errorf("after logout the IdP still answered from its session (redirect=%v)", page.Redirect)
	}
	// The session is ended server-side too: the old cookie, replayed, is dead.
	b.Client().Jar.SetCookies(idpURL, saved)
	_, page = beginIn(t, rp, b, AuthOptions{})
	if _, ok := page.Form("password-form"); !ok {
		t.Errorf("a replayed session cookie still logs in after logout (redirect=%v)", page.Redirect)
	}
}

func TestPromptNoneWithoutSessionReportsIdPError(t *testing.T) {
	t.Parallel()
	e := newIDPEnv(t)
	rp, ctx := e.portal(t), context.Background()
	pending, page := beginIn(t, rp, e.browser(t), AuthOptions{Prompt: "none"})
	if page.Redirect == nil {
		t.Fatalf("prompt=none showed a page (status %d)", page.Status)
	}
	_, err := rp.Complete(ctx, pending, page.Redirect.Query())
	var idpErr *IdPError
	if !errors.As(err, &idpErr) || idpErr.Code != "login_required" || !errors.Is(err, ErrIdP) {
		t.Errorf("err = %v, want IdPError login_required", err)
	}
}

func TestNewReportsUnreachableIssuer(t *testing.T) {
	t.Parallel()
	e := newIDPEnv(t)
	e.srv.Close()
	_, err := New(context.Background(), Config{
		Issuer: e.issuer, ClientID: portalClientID, ClientSecret: portalClientSecret, RedirectURL: portalRedirect,
	})
	if !errors.Is(err, ErrDiscovery) {
		t.Errorf("err = %v, want ErrDiscovery", err)
	}
}

func TestNewRejectsIssuerMismatch(t *testing.T) {
	t.Parallel()
	e := newIDPEnv(t)
	// The discovery document is reachable at this URL but names another
	// issuer (a trailing slash is enough).
	_, err := New(context.Background(), Config{
		Issuer: e.issuer + "/", ClientID: portalClientID, ClientSecret: portalClientSecret,
		RedirectURL: portalRedirect, HTTPClient: e.srv.Client(),
	})
	if !errors.Is(err, ErrDiscovery) {
		t.Errorf("err = %v, want ErrDiscovery", err)
	}
}

func TestACRValuesSupportedFromDiscovery(t *testing.T) {
	t.Parallel()
	e := newIDPEnv(t)
	got := e.portal(t).ACRValuesSupported()
	if !slices.Contains(got, demoidp.ACRMFA) || !slices.Contains(got, demoidp.ACRPassword) {
		t.Errorf("ACRValuesSupported = %q", got)
	}
}
