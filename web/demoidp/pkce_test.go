package demoidp_test

import (
	"context"
	"net/http"
	"testing"
)

const verifier = "correct-verifier-0123456789012345678901234567"

func TestAuthorizeRequiresPKCES256(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "/idp", nil)
	for name, params := range map[string]map[string]string{
		"no challenge":    {},
		"plain challenge": {"code_challenge": verifier, "code_challenge_method": "plain"},
		"challenge only":  {"code_challenge": challenge(verifier), "code_challenge_method": ""},
	} {
		page := e.browser(t).MustGet(t, e.authURL(params))
		if page.Redirect == nil || page.Redirect.Query().Get("error") != "invalid_request" {
			t.Errorf("%s: want a redirect with error=invalid_request, got HTTP %d redirect %v", name, page.Status, page.Redirect)
		}
	}
}

func TestTokenEndpointEnforcesPKCE(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "/idp", nil)
	code := func() string {
		cb, err := e.browser(t).Login(context.Background(), e.authURL(pkce(verifier)), e.pwd("carol"))
		if err != nil {
			t.Fatal(err)
		}
		return cb.Query().Get("code")
	}

	c := code()
	if status, body := e.redeem(t, c, ""); status != http.StatusBadRequest || body["error"] != "invalid_request" {
		t.Errorf("without verifier: HTTP %d %v, want 400 invalid_request", status, body)
	}
	// The failed attempt burned the code: the right verifier is too late.
	if status, body := e.redeem(t, c, verifier); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("code after a failed attempt: HTTP %d %v, want 400 invalid_grant", status, body)
	}

	c = code()
	if status, body := e.redeem(t, c, "wrong-verifier-0123456789012345678901234567"); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("wrong verifier: HTTP %d %v, want 400 invalid_grant", status, body)
	}

	c = code()
	status, body := e.redeem(t, c, verifier)
	if status != http.StatusOK || body["id_token"] == nil || body["access_token"] == nil {
		t.Fatalf("right verifier: HTTP %d %v", status, body)
	}
	if status, _ := e.redeem(t, c, verifier); status != http.StatusBadRequest {
		t.Errorf("second redemption: HTTP %d, want 400", status)
	}

	// The access token works at userinfo and carries the groups claim.
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+body["access_token"].(string))
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("userinfo: HTTP %d", resp.StatusCode)
	}
}

func TestLoginCallbackCannotMintASecondCode(t *testing.T) {
	t.Parallel()
	e, b, page := startLogin(t)
	ctx := context.Background()
	f, _ := page.Form("password-form")
	page = b.MustSubmit(t, f, e.login("carol"), "")
	f, _ = page.Form("otp-form")
	// Submit the skip without following redirects, to see the callback URL.
	resp, err := b.Client().PostForm(f.Action.String(), mergeValues(f.Fields, "action", "skip"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	callback := resp.Header.Get("Location")
	if callback == "" {
		t.Fatalf("no redirect after login (HTTP %d)", resp.StatusCode)
	}
	first, err := b.Get(ctx, callback)
	if err != nil || first.Redirect == nil || first.Redirect.Query().Get("code") == "" {
		t.Fatalf("first callback: %v %+v", err, first)
	}
	second, err := b.Get(ctx, callback)
	if err != nil {
		t.Fatal(err)
	}
	if second.Redirect != nil && second.Redirect.Query().Get("code") != "" {
		t.Error("replaying the login callback minted a second code")
	}
}
