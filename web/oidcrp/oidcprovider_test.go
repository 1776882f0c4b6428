package oidcrp_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countersign/countersign/web/oidcrp"
	"github.com/countersign/countersign/web/oidcrp/oidcpeer"
)

// These tests run today's relying party against oidc-provider, a real and
// certified OpenID provider (see package oidcpeer), with go-oidc verifying
// real tokens. The demo IdP tests (flow_test.go) cover the same RP against
// our own provider.

func TestProviderSignInWithClaimsInIDToken(t *testing.T) {
	t.Parallel()
	p := oidcpeer.Start(t, opConfig())
	rp := opPortal(t, p, nil)
	b := oidcpeer.NewBrowser()

	p.NextLogin(aliceSub, acrPassword, []string{"pwd"}, 0)
	id := opLogin(t, b, rp, oidcrp.AuthOptions{})
	if id.Issuer != p.Issuer() || id.Subject != aliceSub {
		t.Errorf("iss/sub = %q/%q, want %q/%q", id.Issuer, id.Subject, p.Issuer(), aliceSub)
	}
	if id.PreferredUsername != "alice" || id.Name != "Alice Approver" || id.Email != "alice@example.test" {
		t.Errorf("profile = %q %q %q", id.PreferredUsername, id.Name, id.Email)
	}
	if !slices.Equal(id.Groups, []string{"approvers", "sre"}) {
		t.Errorf("groups = %q, want [approvers sre]", id.Groups)
	}
	if !slices.Equal(id.AMR, []string{"pwd"}) {
		t.Errorf("amr = %q, want [pwd]", id.AMR)
	}
	// oidc-provider sends acr and auth_time only when asked (acr_values,
	// max_age, prompt=login or the claims parameter): a plain sign-in
	// carries neither, and the portal's step-up must ask.
	if id.ACR != "" || !id.AuthTime.IsZero() {
		t.Errorf("plain sign-in: acr %q, auth_time %s; want neither", id.ACR, id.AuthTime)
	}
	raw := oidcrp.JWTPart(t, id.RawIDToken, 1)
	if raw["aud"] != opClientID || raw["nonce"] == nil || raw["at_hash"] == nil {
		t.Errorf("ID token aud/nonce/at_hash = %v/%v/%v", raw["aud"], raw["nonce"], raw["at_hash"])
	}

	// Same browser, no prompt: the provider's session answers (single
	// sign-on), so the login set for bob is not used.
	p.NextLogin(bobSub, "", nil, 0)
	again := opLogin(t, b, rp, oidcrp.AuthOptions{})
	if again.Subject != aliceSub {
		t.Errorf("second sign-in at the same browser: sub %q, want alice's session", again.Subject)
	}
	// A new browser has no session: bob logs in.
	other := opLogin(t, oidcpeer.NewBrowser(), rp, oidcrp.AuthOptions{})
	if other.Subject != bobSub || other.PreferredUsername != "bob" || !slices.Equal(other.Groups, []string{"dev"}) {
		t.Errorf("new browser: sub %q, username %q, groups %q; want bob", other.Subject, other.PreferredUsername, other.Groups)
	}
}

func TestProviderStepUpWithACRValues(t *testing.T) {
	t.Parallel()
	p := oidcpeer.Start(t, opConfig())
	rp := opPortal(t, p, nil)
	b := oidcpeer.NewBrowser()
	ctx := context.Background()
	if got := rp.ACRValuesSupported(); !slices.Equal(got, []string{acrPassword, acrMFA}) {
		t.Errorf("ACRValuesSupported = %q", got)
	}

	p.NextLogin(aliceSub, acrPassword, []string{"pwd"}, 0)
	weak := opLogin(t, b, rp, oidcrp.AuthOptions{ACRValues: []string{acrPassword, acrMFA}})
	if weak.ACR != acrPassword {
		t.Fatalf("weak login: acr %q, want %q", weak.ACR, acrPassword)
	}

	// acr_values alone is a wish: the provider answers from its session
	// with the password acr, and the RP refuses it.
	_, err := b.Login(ctx, rp, oidcrp.AuthOptions{ACRValues: []string{acrMFA}})
	if !errors.Is(err, oidcrp.ErrWeakACR) {
		t.Errorf("mfa asked, password session: err = %v, want ErrWeakACR", err)
	}

	// Essential acr: the provider itself asks for a new login; one that
	// only reaches the password acr is refused by the provider.
	p.NextLogin(aliceSub, acrPassword, []string{"pwd"}, 0)
	_, err = b.Login(ctx, rp, oidcrp.AuthOptions{ACRValues: []string{acrMFA}, EssentialACR: true})
	var idpErr *oidcrp.IdPError
	if !errors.As(err, &idpErr) || idpErr.Code != "access_denied" {
		t.Errorf("essential mfa, password login: err = %v, want IdPError access_denied", err)
	}
	p.NextLogin(aliceSub, acrMFA, []string{"pwd", "otp", "mfa"}, 0)
	strong := opLogin(t, b, rp, oidcrp.AuthOptions{ACRValues: []string{acrMFA}, EssentialACR: true})
	if strong.ACR != acrMFA || !slices.Equal(strong.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Errorf("essential mfa: acr %q amr %q", strong.ACR, strong.AMR)
	}
	if strong.Subject != aliceSub || strong.RawIDToken == weak.RawIDToken {
		t.Errorf("step-up: sub %q, or the same token as the weak login", strong.Subject)
	}

	// The portal's step-up: prompt=login, max_age and acr_values. A weak
	// re-login is refused by the RP, a strong one passes every check.
	stepUp := oidcrp.AuthOptions{Prompt: "login", MaxAge: durp(5 * time.Minute), ACRValues: []string{acrMFA}}
	p.NextLogin(aliceSub, acrPassword, []string{"pwd"}, 0)
	if _, err := b.Login(ctx, rp, stepUp); !errors.Is(err, oidcrp.ErrWeakACR) {
		t.Errorf("step-up with a password login: err = %v, want ErrWeakACR", err)
	}
	p.NextLogin(aliceSub, acrMFA, []string{"pwd", "hwk"}, 0)
	before := time.Now()
	fresh := opLogin(t, b, rp, stepUp)
	if fresh.ACR != acrMFA || !within(fresh.AuthTime, before) {
		t.Errorf("step-up: acr %q auth_time %s, want mfa and now (%s)", fresh.ACR, fresh.AuthTime, before)
	}
}

func TestProviderWithoutACRSupport(t *testing.T) {
	t.Parallel()
	cfg := opConfig()
	cfg.ACRValues = nil
	p := oidcpeer.Start(t, cfg)
	rp := opPortal(t, p, nil)
	ctx := context.Background()
	if got := rp.ACRValuesSupported(); len(got) != 0 {
		t.Errorf("ACRValuesSupported = %q, want none", got)
	}
	// The login reached mfa, but a provider without acr support never
	// says so: the RP cannot tell and refuses.
	p.NextLogin(aliceSub, acrMFA, []string{"pwd", "otp"}, 0)
	_, err := oidcpeer.NewBrowser().Login(ctx, rp, oidcrp.AuthOptions{Prompt: "login", ACRValues: []string{acrMFA}})
	if !errors.Is(err, oidcrp.ErrWeakACR) {
		t.Errorf("acr asked from a provider without acr: err = %v, want ErrWeakACR", err)
	}
	// Without an acr request the same login signs in, amr and all.
	p.NextLogin(aliceSub, acrMFA, []string{"pwd", "otp"}, 0)
	id := opLogin(t, oidcpeer.NewBrowser(), rp, oidcrp.AuthOptions{})
	if id.ACR != "" || !slices.Equal(id.AMR, []string{"pwd", "otp"}) {
		t.Errorf("acr %q amr %q, want no acr and [pwd otp]", id.ACR, id.AMR)
	}
}

func TestProviderStaleAuthTimeIsRefused(t *testing.T) {
	t.Parallel()
	p := oidcpeer.Start(t, opConfig())
	rp := opPortal(t, p, nil)
	ctx := context.Background()

	// The person authenticated 10 minutes ago (a remembered login); the
	// provider says so in auth_time and the RP refuses it for max_age=5m.
	p.NextLogin(aliceSub, "", nil, 10*time.Minute)
	_, err := oidcpeer.NewBrowser().Login(ctx, rp, oidcrp.AuthOptions{MaxAge: durp(5 * time.Minute)})
	if !errors.Is(err, oidcrp.ErrStaleAuth) {
		t.Errorf("10-minute-old login for max_age 5m: err = %v, want ErrStaleAuth", err)
	}

	// With a generous max_age the same kind of login passes, and
	// auth_time is the real one, not the token's issue time.
	b := oidcpeer.NewBrowser()
	p.NextLogin(aliceSub, "", nil, 10*time.Minute)
	old := opLogin(t, b, rp, oidcrp.AuthOptions{MaxAge: durp(time.Hour)})
	if !within(old.AuthTime, time.Now().Add(-10*time.Minute)) {
		t.Errorf("auth_time %s, want about 10 minutes ago", old.AuthTime)
	}
	// That browser's 10-minute-old session does not answer max_age=5m:
	// the provider asks for a login again, and the new one is fresh.
	before := time.Now()
	fresh := opLogin(t, b, rp, oidcrp.AuthOptions{MaxAge: durp(5 * time.Minute)})
	if !within(fresh.AuthTime, before) {
		t.Errorf("after max_age=5m: auth_time %s, want now (%s)", fresh.AuthTime, before)
	}
}

func TestProviderKeyRotation(t *testing.T) {
	t.Parallel()
	p := oidcpeer.Start(t, opConfig())
	replay := &tokenReplay{}
	rp := opPortal(t, p, &http.Client{Transport: replay, Timeout: 10 * time.Second})
	b := oidcpeer.NewBrowser()
	ctx := context.Background()

	pendingA, callbackA, err := b.Authorize(ctx, rp, oidcrp.AuthOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := rp.Complete(ctx, pendingA, callbackA)
	if err != nil {
		t.Fatal(err)
	}
	oldKey := kidOf(t, first.RawIDToken)
	responseA := replay.last()

	// The provider drops its key at once. A token response signed by
	// it, replayed to the running RP, is still accepted: go-oidc trusts
	// the keys it has cached and fetches the JWKS only for an unknown kid.
	newKey := p.RotateKeys(false)
	if newKey == oldKey {
		t.Fatal("rotation kept the key id")
	}
	replay.arm(responseA)
	if _, err := rp.Complete(ctx, pendingA, callbackA); err != nil {
		t.Errorf("replay signed by the removed key, before the RP saw the new key: err = %v; the cached key used to accept it", err)
	}

	// A login signed by the new key verifies: the unknown kid makes the
	// RP fetch the JWKS again. (The provider's session survived the
	// rotation: alice's session answers, not the login set for bob.)
	p.NextLogin(bobSub, "", nil, 0)
	second := opLogin(t, b, rp, oidcrp.AuthOptions{})
	if kidOf(t, second.RawIDToken) != newKey || second.Subject != aliceSub {
		t.Errorf("after rotation: kid %q sub %q, want %q and alice", kidOf(t, second.RawIDToken), second.Subject, newKey)
	}
	// That fetch replaced the cache: the removed key is gone for good.
	replay.arm(responseA)
	if _, err := rp.Complete(ctx, pendingA, callbackA); !errors.Is(err, oidcrp.ErrIDToken) {
		t.Errorf("replay signed by the removed key, after the JWKS refresh: err = %v, want ErrIDToken", err)
	}
	// A freshly started RP never trusted it.
	restarted := opPortal(t, p, &http.Client{Transport: replay, Timeout: 10 * time.Second})
	replay.arm(responseA)
	if _, err := restarted.Complete(ctx, pendingA, callbackA); !errors.Is(err, oidcrp.ErrIDToken) {
		t.Errorf("restarted RP, token of the removed key: err = %v, want ErrIDToken", err)
	}

	// A graceful rotation keeps the previous key published: a token of
	// it still verifies at an RP that starts after the rotation.
	pendingB, callbackB, err := b.Authorize(ctx, restarted, oidcrp.AuthOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restarted.Complete(ctx, pendingB, callbackB); err != nil {
		t.Fatal(err)
	}
	responseB := replay.last()
	thirdKey := p.RotateKeys(true)
	later := opPortal(t, p, &http.Client{Transport: replay, Timeout: 10 * time.Second})
	replay.arm(responseB)
	if _, err := later.Complete(ctx, pendingB, callbackB); err != nil {
		t.Errorf("token of the previous, still published key: err = %v", err)
	}
	third := opLogin(t, b, later, oidcrp.AuthOptions{})
	if kidOf(t, third.RawIDToken) != thirdKey {
		t.Errorf("after graceful rotation: kid %q, want %q", kidOf(t, third.RawIDToken), thirdKey)
	}
}

func TestProviderRPInitiatedLogout(t *testing.T) {
	t.Parallel()
	p := oidcpeer.Start(t, opConfig())
	rp := opPortal(t, p, nil)
	b := oidcpeer.NewBrowser()
	ctx := context.Background()
	id := opLogin(t, b, rp, oidcrp.AuthOptions{})
	// The provider's session answers prompt=none before logout.
	if _, err := b.Login(ctx, rp, oidcrp.AuthOptions{Prompt: "none"}); err != nil {
		t.Fatalf("prompt=none with a session: %v", err)
	}

	logoutURL, ok := rp.EndSessionURL(id.RawIDToken, opLoggedOut)
	if !ok {
		t.Fatal("oidc-provider advertises end_session_endpoint, but EndSessionURL says no")
	}
	landed, err := b.Visit(ctx, logoutURL, opLoggedOut)
	if err != nil {
		t.Fatalf("logout: %v", err)
	}
	if landed.String() != opLoggedOut {
		t.Errorf("logout ended at %s, want %s", landed, opLoggedOut)
	}
	// The session is gone at the provider.
	_, err = b.Login(ctx, rp, oidcrp.AuthOptions{Prompt: "none"})
	var idpErr *oidcrp.IdPError
	if !errors.As(err, &idpErr) || idpErr.Code != "login_required" {
		t.Errorf("prompt=none after logout: err = %v, want IdPError login_required", err)
	}

	// An unregistered post-logout URI is refused by the provider.
	bad, _ := rp.EndSessionURL(id.RawIDToken, "http://evil.test/")
	_, err = oidcpeer.NewBrowser().Visit(ctx, bad, "http://evil.test/")
	var page *oidcpeer.PageError
	if !errors.As(err, &page) || page.Status != http.StatusBadRequest {
		t.Errorf("unregistered post_logout_redirect_uri: err = %v, want a 400 page", err)
	}
}

func TestProviderGroupRemovedBeforeStepUp(t *testing.T) {
	t.Parallel()
	p := oidcpeer.Start(t, opConfig())
	rp := opPortal(t, p, nil)
	b := oidcpeer.NewBrowser()

	p.NextLogin(aliceSub, acrPassword, []string{"pwd"}, 0)
	signIn := opLogin(t, b, rp, oidcrp.AuthOptions{})
	if !slices.Contains(signIn.Groups, "approvers") {
		t.Fatalf("sign-in groups %q lack approvers", signIn.Groups)
	}

	// An administrator removes alice from approvers at the IdP.
	claims := aliceClaims()
	claims["groups"] = []string{"sre"}
	p.SetAccount(aliceSub, claims)

	// The step-up's ID token says so; the RP reports the groups of that
	// token (whether the portal then drops the role is the session's
	// business).
	p.NextLogin(aliceSub, acrMFA, []string{"pwd", "otp"}, 0)
	stepUp := opLogin(t, b, rp, oidcrp.AuthOptions{Prompt: "login", MaxAge: durp(5 * time.Minute), ACRValues: []string{acrMFA}})
	if stepUp.Subject != signIn.Subject || !slices.Equal(stepUp.Groups, []string{"sre"}) {
		t.Errorf("step-up: sub %q groups %q, want alice in [sre]", stepUp.Subject, stepUp.Groups)
	}
}

func durp(d time.Duration) *time.Duration { return &d }

// TestProviderWithdrawnKeyExpiresFromTheCache: a key the provider
// withdrew stops verifying tokens at a running relying party once its
// cached key set is older than KeySetMaxAge, even when no token with a new
// key has come along (go-oidc alone would trust it until then).
func TestProviderWithdrawnKeyExpiresFromTheCache(t *testing.T) {
	t.Parallel()
	p := oidcpeer.Start(t, opConfig())
	replay := &tokenReplay{}
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	rp, err := oidcrp.New(context.Background(), oidcrp.Config{
		Issuer: p.Issuer(), ClientID: opClientID, ClientSecret: opClientSecret, RedirectURL: opRedirect,
		Scopes: []string{"openid", "profile", "email", "groups"}, HTTPClient: &http.Client{Transport: replay, Timeout: 10 * time.Second},
		Now: now, KeySetMaxAge: 5 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pending, callback, err := oidcpeer.NewBrowser().Authorize(ctx, rp, oidcrp.AuthOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rp.Complete(ctx, pending, callback); err != nil {
		t.Fatal(err)
	}
	signedByOld := replay.last()
	p.RotateKeys(false)

	// Within KeySetMaxAge the cached key still verifies (as go-oidc does).
	replay.arm(signedByOld)
	if _, err := rp.Complete(ctx, pending, callback); err != nil {
		t.Fatalf("within the key set's age: %v", err)
	}
	// Six minutes on, the keys are fetched again and the withdrawn one
	// is gone.
	offset.Store(int64(6 * time.Minute))
	replay.arm(signedByOld)
	if _, err := rp.Complete(ctx, pending, callback); !errors.Is(err, oidcrp.ErrIDToken) {
		t.Fatalf("token of a withdrawn key after the key set aged: err = %v, want ErrIDToken", err)
	}
}
