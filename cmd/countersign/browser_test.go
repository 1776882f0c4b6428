package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/countersign/countersign/web/browsertest"
	"github.com/countersign/countersign/web/demoidp"
)

// TestBrowserPortalFlows drives headless Chromium through `countersign
// demo` as four people: sign-in through the demo OpenID provider with a
// password and a TOTP code, the dashboard, the request page with its
// provenance and tool chain, an approval recorded with its step-up
// evidence, a second approver completing a 2-of-2 request through a real
// step-up (prompt=login back at the IdP), the requester and a non-approver
// who get no decision form, the "not an approval" notice on a forged
// webhook post, and a denial that needs a reason. Every page is checked for
// console errors and CSP violations; screenshots go to the artifact
// directory (kept with `go test -artifacts`).
func TestBrowserPortalFlows(t *testing.T) {
	browsertest.Chromium(t) // skip (or fail under CI) before starting anything
	d := startDemo(t)

	alice := d.person(t, "alice")
	var ids map[string]string // action -> request id

	steps := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"a_alice_signs_in_and_sees_dashboard", func(t *testing.T) {
			alice.login(t, true)
			ids = alice.actionableIDs(t)
			for _, action := range []string{"rotate-secret", "restart", "scale"} {
				if ids[action] == "" {
					t.Errorf("alice's \"Needs your decision\" lacks %s; has %v", action, ids)
				}
			}
			if _, ok := ids["flush-cache"]; ok {
				t.Errorf("the executed flush-cache request is listed as needing a decision")
			}
			if alice.count(t, `[data-testid="section-recent"]`) != 1 {
				t.Errorf("an approver's dashboard lacks the recent decisions section")
			}
			browsertest.Screenshot(t, alice.ctx, "dashboard")
			alice.phone(t, "dashboard-phone")
			if t.Failed() {
				t.FailNow()
			}
		}},
		{"b_alice_approves_rotate_secret", func(t *testing.T) {
			// Open it the way a person does: the link in the dashboard row.
			alice.clickNav(t, fmt.Sprintf(`[data-testid="request-row"][data-request-id=%q] [data-testid="request-link"]`, ids["rotate-secret"]))
			alice.waitFor(t, "request-page")
			alice.checkRotateSecretPage(t)
			browsertest.Screenshot(t, alice.ctx, "request")
			alice.phone(t, "request-phone")

			alice.typeInto(t, "#approve-comment", "Leak confirmed in job 88412; rotate and restart consumers.")
			stepUp := alice.submitDecision(t, "approve-button")
			t.Logf("alice's approval needed a step-up at the IdP: %v", stepUp)
			alice.expectDecided(t, "approve", "Your approval is recorded")

			dec := alice.decision(t, "alice")
			if dec.Verdict != "approve" || !dec.Counts {
				t.Errorf("alice's decision %+v: want a counting approve", dec)
			}
			if dec.ACR != demoidp.ACRMFA {
				t.Errorf("acr evidence %q, want %q", dec.ACR, demoidp.ACRMFA)
			}
			for _, m := range []string{demoidp.AMRPassword, demoidp.AMROTP} {
				if !strings.Contains(dec.AMR, m) {
					t.Errorf("amr evidence %q lacks %q", dec.AMR, m)
				}
			}
			if dec.AuthTime == "" || dec.AuthTime == "—" {
				t.Errorf("auth_time evidence missing: %+v", dec)
			}
			if dec.Hash != alice.text(t, `[data-testid="content-hash"]`) {
				t.Errorf("decision bound to %q, page shows content hash %q", dec.Hash, alice.text(t, `[data-testid="content-hash"]`))
			}
			if s := alice.state(t); s != "pending" {
				t.Errorf("state after 1 of 2 approvals: %q, want pending", s)
			}
			if s := alice.text(t, `[data-testid="approvals-summary"]`); !strings.Contains(s, "1 of 2") {
				t.Errorf("approvals summary %q, want 1 of 2", s)
			}
			if n := alice.count(t, `[data-testid="decision-forms"]`); n != 0 {
				t.Errorf("decision forms still offered to alice after she decided")
			}
			if s := alice.text(t, `[data-testid="cannot-decide"]`); !strings.Contains(s, "already decided") {
				t.Errorf("reason after deciding %q, want \"already decided\"", s)
			}
			browsertest.Screenshot(t, alice.ctx, "request-after-approval")
		}},
		{"e_alice_sees_forged_approval_is_not_one", func(t *testing.T) {
			alice.open(t, ids["scale"])
			post := `[data-testid="post"][data-post-id="53r6yo747pdepgmesqbnqa77br"]`
			if s := alice.text(t, post+` [data-testid="post-message"]`); !strings.Contains(s, "Approved ✅ go ahead and scale") {
				t.Errorf("webhook post text %q", s)
			}
			if alice.count(t, post+` [data-testid="not-approval"]`) != 1 {
				t.Errorf("the approval-like webhook post has no \"not an approval\" notice")
			} else if s := alice.text(t, post+` [data-testid="not-approval"]`); !strings.Contains(s, "This text is not an approval") {
				t.Errorf("notice text %q", s)
			}
			if alice.count(t, post+` [data-testid="prov-webhook"]`) != 1 {
				t.Errorf("the forged post is not badged as a webhook")
			}
			if s := alice.text(t, post+` [data-testid="shown-as-name"]`); s != "alice" {
				t.Errorf("overridden display name shown as %q, want alice", s)
			}
			if s := alice.text(t, post+` [data-testid="post-author"]`); s != "dave" {
				t.Errorf("real author %q, want dave (the webhook's owner)", s)
			}
			if alice.count(t, `[data-testid="claims-summary"]`) != 1 {
				t.Errorf("no conversation-level warning about approval-like messages")
			}
			// The text changed nothing: still pending, 0 of 1.
			if s := alice.state(t); s != "pending" {
				t.Errorf("state %q, want pending", s)
			}
			if s := alice.text(t, `[data-testid="approvals-summary"]`); !strings.Contains(s, "0 of 1") {
				t.Errorf("approvals %q, want 0 of 1", s)
			}
			browsertest.Screenshot(t, alice.ctx, "request-forged-approval")
		}},
		{"d_carol_cannot_decide_her_own_request", func(t *testing.T) {
			carol := d.person(t, "carol")
			carol.login(t, true)
			if n := carol.count(t, `[data-testid="section-actionable"] [data-testid="request-row"]`); n != 0 {
				t.Errorf("carol (no approver role) has %d requests needing her decision", n)
			}
			mine := carol.rowIDs(t, "section-mine")
			if mine["restart"] != ids["restart"] {
				t.Errorf("carol's own requests %v lack restart %s", mine, ids["restart"])
			}
			carol.clickNav(t, fmt.Sprintf(`[data-testid="section-mine"] [data-request-id=%q] [data-testid="request-link"]`, ids["restart"]))
			carol.waitFor(t, "request-page")
			if n := carol.count(t, `[data-testid="decision-forms"], [data-testid="approve-button"], [data-testid="deny-button"]`); n != 0 {
				t.Errorf("carol is offered a decision form on her own request")
			}
			// Carol is both the requester and not an approver; the personal
			// reason comes first, so the page says it is her own request.
			reason := carol.text(t, `[data-testid="cannot-decide"]`)
			if !strings.Contains(reason, "You made this request") {
				t.Errorf("carol's reason %q, want the own-request refusal", reason)
			}
			t.Logf("carol is told: %s", reason)
			browsertest.Screenshot(t, carol.ctx, "request-own-requester")
			// Other people's requests are not hers to see.
			if status := carol.navigate(t, "/requests/"+ids["rotate-secret"]); status != 404 {
				t.Errorf("carol opening someone else's request: status %d, want 404", status)
			}
			carol.drainExpected(t, "404")
		}},
		{"f_alice_denies_restart_only_with_a_reason", func(t *testing.T) {
			alice.open(t, ids["restart"])
			hash := alice.text(t, `[data-testid="content-hash"]`)
			// The browser refuses an empty reason: the field is required.
			alice.click(t, `[data-testid="deny-button"]`)
			missing := evalJS[bool](t, alice, `document.querySelector('#deny-comment').validity.valueMissing`)
			if !missing {
				t.Errorf("empty deny reason is not flagged as missing by the form")
			}
			if u := alice.location(t); strings.Contains(u, "decided=") {
				t.Fatalf("an empty denial was submitted: now at %s", u)
			}
			// The server refuses it too, for a client that skips the form's check.
			evalJS[bool](t, alice, `document.querySelector('#deny-comment').removeAttribute('required'), true`)
			resp := alice.clickNav(t, `[data-testid="deny-button"]`)
			if resp == nil || resp.Status != 400 {
				t.Errorf("deny without a reason: status %v, want 400", status(resp))
			}
			alice.drainExpected(t, "400")
			alice.open(t, ids["restart"])
			if alice.count(t, `[data-testid="decision"]`) != 0 || alice.state(t) != "pending" {
				t.Fatalf("the refused denial left a trace: state %q", alice.state(t))
			}
			if got := alice.text(t, `[data-testid="content-hash"]`); got != hash {
				t.Errorf("content hash changed: %s -> %s", hash, got)
			}
			alice.typeInto(t, "#deny-comment", "Restarting hides the leak; ship the flag fix instead (INC-4211).")
			alice.submitDecision(t, "deny-button")
			alice.expectDecided(t, "deny", "Your denial is recorded")
			if s := alice.state(t); s != "denied" {
				t.Errorf("state after a deny: %q, want denied", s)
			}
			dec := alice.decision(t, "alice")
			if dec.Verdict != "deny" || !strings.Contains(dec.Comment, "flag fix") {
				t.Errorf("denial %+v lacks its reason", dec)
			}
			browsertest.Screenshot(t, alice.ctx, "request-denied")
		}},
		{"c_bob_steps_up_and_completes_rotate_secret", func(t *testing.T) {
			bob := d.person(t, "bob")
			// Password only at sign-in, so the approval must send bob back
			// to the IdP for TOTP (prompt=login, acr_values).
			bob.login(t, false)
			bob.open(t, ids["rotate-secret"])
			if s := bob.text(t, `[data-testid="approvals-summary"]`); !strings.Contains(s, "1 of 2") {
				t.Errorf("bob sees %q, want 1 of 2", s)
			}
			bob.typeInto(t, "#approve-comment", "Second pair of eyes: agreed.")
			var stepUp bool
			docs := bob.documents(t, func() { stepUp = bob.submitDecision(t, "approve-button") })
			if !stepUp {
				t.Errorf("a password-only session approved without a step-up")
			}
			// The step-up asked the IdP for a new, strong, recent login.
			var authorize *url.URL
			for _, d := range docs {
				if u, err := url.Parse(d); err == nil && strings.HasSuffix(u.Path, "/authorize") {
					authorize = u
				}
			}
			if authorize == nil {
				t.Errorf("no authorization request among the step-up's pages %v", docs)
			} else {
				q := authorize.Query()
				t.Logf("step-up authorization request: %s prompt=%s max_age=%s acr_values=%s", authorize.Path, q.Get("prompt"), q.Get("max_age"), q.Get("acr_values"))
				if q.Get("prompt") != "login" || q.Get("max_age") != "300" || !strings.Contains(q.Get("acr_values"), demoidp.ACRMFA) {
					t.Errorf("step-up authorization request %s: want prompt=login, max_age=300, acr_values=%s", authorize, demoidp.ACRMFA)
				}
				if q.Get("code_challenge_method") != "S256" || q.Get("state") == "" || q.Get("nonce") == "" {
					t.Errorf("step-up authorization request %s lacks PKCE S256, state or nonce", authorize)
				}
			}
			bob.expectDecided(t, "approve", "Your approval is recorded")
			// The demo's agent may already have run it.
			if s := bob.state(t); s != "approved" && s != "executed" {
				t.Errorf("state after 2 of 2: %q, want approved (or executed by the agent)", s)
			}
			if s := bob.text(t, `[data-testid="approvals-summary"]`); !strings.Contains(s, "2 of 2") {
				t.Errorf("approvals %q, want 2 of 2", s)
			}
			dec := bob.decision(t, "bob")
			if dec.ACR != demoidp.ACRMFA || !strings.Contains(dec.AMR, demoidp.AMROTP) {
				t.Errorf("bob's step-up evidence %+v: want acr %s with otp", dec, demoidp.ACRMFA)
			}
			if n := bob.count(t, `[data-testid="decision"][data-verdict="approve"] [data-testid="decision-counts"]`); n != 2 {
				t.Errorf("%d counting approvals in the timeline, want 2", n)
			}
			browsertest.Screenshot(t, bob.ctx, "request-approved")
			bob.waitForAgentRun(t, ids["rotate-secret"])
			browsertest.Screenshot(t, bob.ctx, "request-executed")

			// e: bob's own request offers him no decision.
			bob.open(t, ids["scale"])
			if n := bob.count(t, `[data-testid="decision-forms"]`); n != 0 {
				t.Errorf("bob is offered a decision on his own request")
			}
			if s := bob.text(t, `[data-testid="cannot-decide"]`); !strings.Contains(s, "You made this request") {
				t.Errorf("bob's reason on his own request: %q", s)
			}
			browsertest.Screenshot(t, bob.ctx, "request-own-approver")
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.fn) {
			// Later steps build on earlier ones; stop at the first failure.
			return
		}
	}
}

// waitForAgentRun reloads request id until the demo's simulated agent
// has redeemed its grant and reported the run, then checks that the page
// says so: executed, a successful run reported by deploy-bot, the grant
// redeemed. The bound only turns a hang into a failure.
func (p *person) waitForAgentRun(t testing.TB, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for p.count(t, `[data-testid="section-execution"] [data-testid="execution-state"]`) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no execution on %s after 30 s: state %q", id, p.state(t))
		}
		time.Sleep(250 * time.Millisecond)
		p.open(t, id)
	}
	if s := p.state(t); s != "executed" {
		t.Errorf("state after the agent's run: %q, want executed", s)
	}
	if s := p.text(t, `[data-testid="execution-state"]`); !strings.HasPrefix(s, "succeeded") {
		t.Errorf("execution state %q, want a successful run", s)
	}
	if s := p.text(t, `[data-testid="section-execution"]`); !strings.Contains(s, "deploy-bot") {
		t.Errorf("the execution does not name the agent that reported it: %q", s)
	}
	if s := p.text(t, `[data-testid="grant-state"]`); !strings.Contains(s, "redeemed") {
		t.Errorf("grant state %q after the run, want redeemed", s)
	}
}

// demoUser is one line of the demo's user list.
type demoUser struct {
	name, groups, password, secret string
}

// demoServer is a running `countersign demo`.
type demoServer struct {
	base  string
	users map[string]demoUser
}

// userLine is the demo's contract for printing a user.
var userLine = regexp.MustCompile(`(?m)^\s+user (\S+) \(([^)]*)\): password (\S+), TOTP secret ([A-Z2-7]+)\s*$`)

// startDemo runs the real `countersign demo` on a free port and reads its
// users from what it prints.
func startDemo(t *testing.T) *demoServer {
	t.Helper()
	return startDemoAt(t, "127.0.0.1:0")
}

// startDemoAt is startDemo listening at addr (a host name such as
// localhost stays in the demo's URL).
func startDemoAt(t *testing.T, addr string) *demoServer {
	t.Helper()
	base, stdout, stop := startServer(t, nil, "demo", "--data", filepath.Join(t.TempDir(), "demo"), "--addr", addr)
	t.Cleanup(func() {
		if code := stop(); code != 0 {
			t.Errorf("demo exited with %d", code)
		}
	})
	// The user list follows the listening line in the same callback.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stdout.String(), "Press Ctrl-C") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	d := &demoServer{base: base, users: map[string]demoUser{}}
	for _, m := range userLine.FindAllStringSubmatch(stdout.String(), -1) {
		d.users[m[1]] = demoUser{name: m[1], groups: m[2], password: m[3], secret: m[4]}
	}
	for _, name := range []string{"alice", "bob", "carol", "dave"} {
		if _, ok := d.users[name]; !ok {
			t.Fatalf("demo did not print user %s; output:\n%s", name, stdout.String())
		}
	}
	return d
}

// person is one demo user in a browser of their own, so sessions never
// mix.
type person struct {
	demoUser
	base string
	ctx  context.Context
	// lastStep is the TOTP time step last used: the demo IdP refuses a
	// code twice, so a second code waits for the next step.
	lastStep int64
}

func (d *demoServer) person(t *testing.T, name string) *person {
	t.Helper()
	return &person{demoUser: d.users[name], base: d.base, ctx: browsertest.New(t)}
}

// stepTimeout bounds one browser step; the page loads in milliseconds,
// so this only turns a hang into a clear failure.
const stepTimeout = 15 * time.Second

func (p *person) run(t testing.TB, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s's browser: %v", p.name, err)
	}
}

// evalJS evaluates a read-only expression in the page.
func evalJS[T any](t testing.TB, p *person, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s's browser: evaluate %s: %v", p.name, expr, err)
	}
	return v
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// navigate loads path and returns the HTTP status of the document.
func (p *person) navigate(t testing.TB, path string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(p.base+path))
	if err != nil {
		t.Fatalf("%s's browser: open %s: %v", p.name, path, err)
	}
	return resp.Status
}

// clickNav clicks the element and waits for the page it loads, returning
// the final document's response.
func (p *person) clickNav(t testing.TB, sel string) *network.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("%s's browser: click %s: %v", p.name, sel, err)
	}
	return resp
}

// click clicks without waiting for a navigation.
func (p *person) click(t testing.TB, sel string) {
	t.Helper()
	p.run(t, chromedp.Click(chromedp.CSS(sel)))
}

func (p *person) typeInto(t testing.TB, sel, text string) {
	t.Helper()
	// Empty the field first (chromedp's Clear fails on an empty textarea
	// and SetValue refuses ""), then type like a person.
	evalJS[bool](t, p, `(document.querySelector(`+jsString(sel)+`).value = "", true)`)
	p.run(t, chromedp.SendKeys(chromedp.CSS(sel), text))
}

func (p *person) location(t testing.TB) string {
	t.Helper()
	return evalJS[string](t, p, `location.href`)
}

// text is the whitespace-normalized text of the first match, "" if none.
func (p *person) text(t testing.TB, sel string) string {
	t.Helper()
	return evalJS[string](t, p, `(() => { const e = document.querySelector(`+jsString(sel)+`); return e ? e.textContent.replace(/\s+/g, " ").trim() : "" })()`)
}

func (p *person) count(t testing.TB, sel string) int {
	t.Helper()
	return evalJS[int](t, p, `document.querySelectorAll(`+jsString(sel)+`).length`)
}

func (p *person) state(t testing.TB) string {
	t.Helper()
	return evalJS[string](t, p, `(() => { const e = document.querySelector('[data-testid="request-head"] [data-testid="state-badge"]'); return e ? e.dataset.state : "" })()`)
}

// waitFor waits until one of the test ids is on the page and returns it;
// then it checks the page wrote no console error.
func (p *person) waitFor(t testing.TB, testids ...string) string {
	t.Helper()
	list, _ := json.Marshal(testids)
	expr := `(` + string(list) + `).find(id => document.querySelector('[data-testid="' + id + '"]')) || ""`
	deadline := time.Now().Add(stepTimeout)
	for {
		if got := evalJS[string](t, p, expr); got != "" {
			browsertest.AssertNoConsoleErrors(t, p.ctx)
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's browser: none of %v at %s; page text: %.600s", p.name, testids, p.location(t), p.text(t, "body"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// drainExpected checks that the console errors since the last check are
// only the browser's report of an expected failed load (e.g. "404").
func (p *person) drainExpected(t testing.TB, status string) {
	t.Helper()
	evalJS[bool](t, p, `true`) // let trailing log entries arrive
	for _, e := range browsertest.ConsoleErrors(t, p.ctx) {
		if !strings.Contains(e, "Failed to load resource") || !strings.Contains(e, status) {
			t.Errorf("browser console error: %s", e)
		}
	}
}

// totpCode returns a code for this person that the IdP has not seen yet.
func (p *person) totpCode(t testing.TB) string {
	t.Helper()
	now := time.Now()
	for now.Unix()/30 <= p.lastStep {
		t.Logf("waiting %s for %s's next TOTP window", time.Duration(30-now.Unix()%30)*time.Second, p.name)
		time.Sleep(time.Duration(30-now.Unix()%30)*time.Second + 100*time.Millisecond)
		now = time.Now()
	}
	code, err := totp.GenerateCode(p.secret, now)
	if err != nil {
		t.Fatalf("totp for %s: %v", p.name, err)
	}
	p.lastStep = now.Unix() / 30
	return code
}

// authenticate completes the demo IdP's password page and its TOTP page
// (or skips TOTP when the page allows it and withTOTP is false).
func (p *person) authenticate(t testing.TB, withTOTP bool) {
	t.Helper()
	p.waitFor(t, "password-form")
	if s := p.text(t, `[data-testid="demo-banner"]`); !strings.Contains(s, "Demo identity provider") {
		t.Errorf("IdP page lacks the demo banner: %q", s)
	}
	p.typeInto(t, "#username", p.name)
	p.typeInto(t, "#password", p.password)
	p.clickNav(t, `[data-testid="password-submit"]`)
	p.waitFor(t, "otp-form")
	if s := p.text(t, `[data-testid="otp-user"]`); s != p.name {
		t.Errorf("TOTP page for %q, want %q", s, p.name)
	}
	if !withTOTP {
		if p.count(t, `[data-testid="otp-skip"]`) == 1 {
			p.clickNav(t, `[data-testid="otp-skip"]`)
			return
		}
		t.Logf("the IdP does not let %s skip TOTP here; entering a code", p.name)
	}
	p.typeInto(t, "#code", p.totpCode(t))
	p.clickNav(t, `[data-testid="otp-submit"]`)
}

// login signs in from the home page and lands on the dashboard.
func (p *person) login(t testing.TB, withTOTP bool) {
	t.Helper()
	if status := p.navigate(t, "/"); status != 200 {
		t.Fatalf("home page: status %d", status)
	}
	p.waitFor(t, "signin-link")
	p.clickNav(t, `[data-testid="signin-link"]`)
	if u := p.location(t); !strings.Contains(u, "/idp/") {
		t.Errorf("sign-in link led to %s, not the demo IdP", u)
	}
	p.authenticate(t, withTOTP)
	p.waitFor(t, "dashboard-head")
	if u, _ := url.Parse(p.location(t)); u == nil || u.Path != "/" {
		t.Errorf("after sign-in at %s, want the dashboard at /", p.location(t))
	}
	// The dashboard shows the IdP's display name ("Alice Approver (SRE)").
	if s := p.text(t, `[data-testid="user-name"]`); !strings.Contains(strings.ToLower(s), p.name) {
		t.Errorf("dashboard says signed in as %q, want %s", s, p.name)
	}
}

// open loads a request page.
func (p *person) open(t testing.TB, id string) {
	t.Helper()
	if id == "" {
		t.Fatalf("no request id")
	}
	if status := p.navigate(t, "/requests/"+id); status != 200 {
		t.Fatalf("%s opening request %s: status %d", p.name, id, status)
	}
	p.waitFor(t, "request-page")
}

// rowIDs maps action -> request id for the rows of a dashboard section.
func (p *person) rowIDs(t testing.TB, section string) map[string]string {
	t.Helper()
	raw := evalJS[string](t, p, `JSON.stringify(Object.fromEntries([...document.querySelectorAll('[data-testid="`+section+`"] [data-testid="request-row"]')].map(r => [r.querySelector('[data-testid="request-action"]').textContent.trim(), r.dataset.requestId])))`)
	m := map[string]string{}
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("rows of %s: %v", section, err)
	}
	return m
}

func (p *person) actionableIDs(t testing.TB) map[string]string {
	t.Helper()
	return p.rowIDs(t, "section-actionable")
}

// phone takes a screenshot at a phone's width, then returns to the laptop
// size.
func (p *person) phone(t testing.TB, name string) {
	t.Helper()
	p.run(t, chromedp.EmulateViewport(browsertest.PhoneWidth, browsertest.PhoneHeight, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulatePortrait))
	// Nothing may stick out sideways on a phone.
	if w := evalJS[int](t, p, `document.documentElement.scrollWidth`); w > browsertest.PhoneWidth {
		t.Errorf("%s: page is %d px wide at a %d px viewport", name, w, browsertest.PhoneWidth)
	}
	browsertest.Screenshot(t, p.ctx, name)
	p.run(t, chromedp.EmulateViewport(browsertest.LaptopWidth, browsertest.LaptopHeight))
}

// documents returns the URLs of the documents the browser requested while
// fn ran, redirects included.
func (p *person) documents(t testing.TB, fn func()) []string {
	t.Helper()
	var (
		mu   sync.Mutex
		urls []string
	)
	p.listenWhile(t, fn, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Type == network.ResourceTypeDocument {
			mu.Lock()
			urls = append(urls, e.Request.URL)
			mu.Unlock()
		}
	})
	mu.Lock()
	defer mu.Unlock()
	return append([]string(nil), urls...)
}

// listenWhile passes every browser event to on while fn runs.
func (p *person) listenWhile(t testing.TB, fn func(), on func(ev any)) {
	t.Helper()
	ctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	if err := chromedp.Listen(ctx, on); err != nil {
		t.Fatalf("%s's browser: listen: %v", p.name, err)
	}
	fn()
}

// submitDecision clicks Approve or Deny, completes a step-up at the IdP if
// the portal asks for one, and reports whether it did.
func (p *person) submitDecision(t testing.TB, button string) (steppedUp bool) {
	t.Helper()
	p.clickNav(t, fmt.Sprintf(`[data-testid=%q]`, button))
	if p.waitFor(t, "request-page", "password-form", "otp-form") != "request-page" {
		steppedUp = true
		u, _ := url.Parse(p.location(t))
		if u == nil || !strings.HasPrefix(u.Path, "/idp/") {
			t.Errorf("step-up went to %s, not the demo IdP", p.location(t))
		}
		p.authenticate(t, true)
		p.waitFor(t, "request-page")
	}
	return steppedUp
}

// expectDecided checks the confirmation after a decision.
func (p *person) expectDecided(t testing.TB, verdict, notice string) {
	t.Helper()
	if u := p.location(t); !strings.Contains(u, "decided="+verdict) {
		t.Errorf("after deciding at %s, want ?decided=%s", u, verdict)
	}
	if s := p.text(t, `[data-testid="decision-notice"]`); !strings.Contains(s, notice) {
		t.Errorf("decision notice %q, want %q", s, notice)
	}
}

// decisionView is one entry of the decisions timeline.
type decisionView struct {
	Verdict, Approver, ACR, AMR, AuthTime, Hash, Comment string
	Counts                                               bool
}

// decision reads who's entry from the decisions timeline.
func (p *person) decision(t testing.TB, who string) decisionView {
	t.Helper()
	raw := evalJS[string](t, p, `JSON.stringify([...document.querySelectorAll('[data-testid="decision"]').values()].map(d => {
		const txt = id => { const e = d.querySelector('[data-testid="' + id + '"]'); return e ? e.textContent.replace(/\s+/g, " ").trim() : "" };
		return {Verdict: d.dataset.verdict, Approver: txt("decision-approver"), ACR: txt("step-up-acr"), AMR: txt("step-up-amr"),
			AuthTime: txt("step-up-auth-time"), Hash: txt("decision-hash"), Comment: txt("decision-comment"),
			Counts: !!d.querySelector('[data-testid="decision-counts"]')};
	}))`)
	var all []decisionView
	if err := json.Unmarshal([]byte(raw), &all); err != nil {
		t.Fatalf("decisions timeline: %v", err)
	}
	for _, d := range all {
		// The timeline shows the IdP's display name ("Alice Approver (SRE)").
		if strings.Contains(strings.ToLower(d.Approver), who) {
			return d
		}
	}
	t.Fatalf("no decision by %s in the timeline: %+v", who, all)
	return decisionView{}
}

// checkRotateSecretPage checks what an approver must see on the agent's
// request: who asked and for whom, where each post came from, and the
// tool chain that led there.
func (p *person) checkRotateSecretPage(t testing.TB) {
	t.Helper()
	if s := p.text(t, `[data-testid="action"]`); s != "rotate-secret" {
		t.Errorf("action %q", s)
	}
	if s := p.text(t, `[data-testid="purpose"]`); !strings.Contains(s, "SEC-311") {
		t.Errorf("purpose %q", s)
	}
	if s := p.state(t); s != "pending" {
		t.Errorf("state %q, want pending", s)
	}
	if s := p.text(t, `[data-testid="approvals-summary"]`); !strings.Contains(s, "0 of 2") {
		t.Errorf("approvals %q, want 0 of 2", s)
	}
	if n := p.count(t, `[data-testid="post"]`); n != 4 {
		t.Errorf("%d posts, want 4", n)
	}
	if n := p.count(t, `[data-testid="post"] [data-testid="provenance"]`); n != 4 {
		t.Errorf("%d posts with provenance badges, want all 4", n)
	}
	for sel, want := range map[string]int{
		`[data-testid="prov-human"]`:   2,
		`[data-testid="prov-bot"]`:     2,
		`[data-testid="bot-owner"]`:    2,
		`[data-testid="prov-edited"]`:  1,
		`[data-testid="post-root"]`:    1,
		`[data-testid="post-trigger"]`: 1,
	} {
		if n := p.count(t, `[data-testid="section-conversation"] `+sel); n != want {
			t.Errorf("%s: %d, want %d", sel, n, want)
		}
	}
	if s := p.text(t, `[data-testid="bot-owner"]`); !strings.Contains(s, "dave") {
		t.Errorf("bot owner %q, want dave", s)
	}
	tools := evalJS[[]string](t, p, `[...document.querySelectorAll('[data-testid="toolchain"] [data-testid="tool-call"] [data-testid="tool-name"]')].map(e => e.textContent.trim())`)
	want := []string{"ci.get_job_log", "vault.read_metadata", "k8s.list_consumers", "policy.dry_run"}
	if strings.Join(tools, ",") != strings.Join(want, ",") {
		t.Errorf("tool chain %v, want %v", tools, want)
	}
	if n := p.count(t, `[data-testid="tool-call"] [data-testid="tool-parent"]`); n != 3 {
		t.Errorf("%d tool calls name their parent, want 3", n)
	}
	if n := p.count(t, `[data-testid="content-verified"]`); n != 1 {
		t.Errorf("content hash not shown as verified")
	}
	if n := p.count(t, `[data-testid="approve-form"]`) + p.count(t, `[data-testid="deny-form"]`); n != 2 {
		t.Errorf("approver is not offered both decision forms")
	}
	if s := p.text(t, `[data-testid="section-decisions"]`); !strings.Contains(s, "No decisions yet") {
		t.Errorf("decisions section before any decision: %q", s)
	}
}

func status(r *network.Response) any {
	if r == nil {
		return "no response"
	}
	return r.Status
}
