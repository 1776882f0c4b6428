package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/countersign/countersign/web/browsertest"
)

// decidePanelMaxTop is how far down a 1280 px wide page the decision
// panel may start: an approver reaches it without scrolling past the
// evidence.
const decidePanelMaxTop = 1200

// TestBrowserRequestPageAndDashboard checks the request page and the
// dashboard as an approver sees them on `countersign demo`, at 1280 and
// 390 px: axe-core finds no violation, nothing sticks out sideways, the
// decision panel starts within the first 1,200 px (measured in the DOM),
// the page leads with a sentence, a state line and the risk flags, the
// dashboard links purposes and flags the impersonating webhook post, and
// the requester's own slash-command post is not badged as a webhook.
// Screenshots go to the artifact directory.
func TestBrowserRequestPageAndDashboard(t *testing.T) {
	browsertest.Chromium(t)
	d := startDemo(t)
	alice := d.person(t, "alice")
	// Signed out: the landing page, at both widths (axe checks each).
	if status := alice.navigate(t, "/"); status != 200 {
		t.Fatalf("/ signed out: status %d", status)
	}
	browsertest.Screenshot(t, alice.ctx, "home-signed-out")
	alice.phone(t, "home-signed-out-phone")
	alice.login(t, true)
	ids := alice.actionableIDs(t)

	// Dashboard: purposes as links, soonest-expiring first, flags in rows.
	titles := evalJS[[]string](t, alice, `[...document.querySelectorAll('[data-testid="section-actionable"] [data-testid="request-link"]')].map(e => e.textContent.trim())`)
	t.Logf("dashboard rows: %q", titles)
	for _, title := range titles {
		if strings.HasPrefix(title, "REQ-") {
			t.Errorf("a dashboard row links its id %q instead of its purpose", title)
		}
	}
	scaleRow := `[data-testid="request-row"][data-request-id="` + ids["scale"] + `"]`
	if alice.count(t, scaleRow+` [data-risk="impersonation"]`) != 1 {
		t.Errorf("the scale row does not flag its impersonating webhook post")
	}
	both(t, alice, "dashboard")

	// The agent's request: summary and decision panel first.
	alice.open(t, ids["rotate-secret"])
	if s := alice.text(t, `[data-testid="request-title"]`); !strings.Contains(s, "SEC-311") {
		t.Errorf("heading %q, want the purpose", s)
	}
	if s := alice.text(t, `[data-testid="request-sentence"]`); !strings.HasPrefix(s, "deploy-bot (an agent sponsored by dave) asks to run rotate-secret") {
		t.Errorf("sentence %q", s)
	}
	if s := alice.text(t, `[data-testid="state-line"]`); !strings.Contains(s, "Waiting for approvals: 0 of 2") || !strings.Contains(s, "time left to decide") {
		t.Errorf("state line %q", s)
	}
	if s := alice.text(t, `[data-testid="approval-effect"]`); !strings.Contains(s, "single-use grant") {
		t.Errorf("what approving does: %q", s)
	}
	top := evalJS[float64](t, alice, `document.querySelector('[data-testid="section-decide"]').getBoundingClientRect().top + window.scrollY`)
	t.Logf("decision panel top at 1280 px: %.0f px", top)
	if top > decidePanelMaxTop {
		t.Errorf("decision panel starts at %.0f px, want within %d px", top, decidePanelMaxTop)
	}
	if alice.count(t, `[data-testid="approve-form"]`) != 1 {
		t.Errorf("alice is not offered the approve form")
	}
	both(t, alice, "request")

	// The forged approval: flagged in the header; bob's own slash command
	// is badged as a command, not as a webhook.
	alice.open(t, ids["scale"])
	if alice.count(t, `[data-testid="request-head"] [data-risk="impersonation"]`) != 1 {
		t.Errorf("the impersonating webhook post is not flagged in the header")
	}
	own := `[data-testid="post"][data-post-id="y1c6m3x8kq4zw9nd2bt7hfr5ep"]`
	if alice.count(t, own+` [data-testid="prov-command"]`) != 1 || alice.count(t, own+` [data-testid="prov-webhook"]`) != 0 {
		t.Errorf("bob's own slash command is not badged as a command")
	}
	forged := `[data-testid="post"][data-post-id="53r6yo747pdepgmesqbnqa77br"]`
	if alice.count(t, forged+` [data-testid="prov-impersonation"]`) != 1 {
		t.Errorf("the forged post lacks its impersonation badge")
	}
	both(t, alice, "request-impersonation")

	// A decision from a page whose content is no longer current (its
	// hidden content hash altered, as a stale tab would carry): nothing
	// is recorded and the page says why, with the navigation.
	alice.open(t, ids["restart"])
	alice.run(t, chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="approve-form"] input[name="content_hash"]').value = "`+strings.Repeat("0", 64)+`"`))
	if resp := alice.clickNav(t, `[data-testid="approve-button"]`); resp == nil || resp.Status != 409 {
		t.Errorf("a decision on altered content answered %v, want 409", status(resp))
	}
	alice.drainExpected(t, "409") // the page comes with its 409
	if alice.count(t, `[data-testid="decision-changed"]`) != 1 || alice.count(t, `[data-testid="portal-nav"]`) != 1 {
		t.Errorf("a decision on altered content did not lead to the changed page with navigation: %s", alice.text(t, "body"))
	}
	both(t, alice, "decision-changed")
	alice.open(t, ids["restart"])
	if s := alice.state(t); s != "pending" {
		t.Errorf("the refused decision changed the request: %s", s)
	}

	// The executed request: no countdown, one honest line.
	alice.navigate(t, "/requests?state=executed")
	alice.waitFor(t, "request-table")
	alice.clickNav(t, `[data-testid="request-row"] [data-testid="request-link"]`)
	alice.waitFor(t, "request-page")
	if stage := evalJS[string](t, alice, `document.querySelector('[data-testid="state-line"]').dataset.stage`); stage != "executed" {
		t.Errorf("executed request reads as stage %q", stage)
	}
	if alice.count(t, `[data-testid="due"], [data-testid="expires"]`) != 0 {
		t.Errorf("a finished request still shows an expiry countdown")
	}
	both(t, alice, "request-executed")
}

// both checks the current page with axe-core and takes screenshots at the
// laptop width and at a phone's, where nothing may stick out sideways.
func both(t *testing.T, p *person, name string) {
	t.Helper()
	browsertest.Screenshot(t, p.ctx, name) // checked by axe too
	p.run(t, chromedp.EmulateViewport(browsertest.PhoneWidth, browsertest.PhoneHeight, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulatePortrait))
	if w := evalJS[int](t, p, `document.documentElement.scrollWidth`); w > browsertest.PhoneWidth {
		t.Errorf("%s: page is %d px wide at a %d px viewport", name, w, browsertest.PhoneWidth)
	}
	browsertest.Screenshot(t, p.ctx, name+"-phone")
	p.run(t, chromedp.EmulateViewport(browsertest.LaptopWidth, browsertest.LaptopHeight))
}

// TestBrowserStepUpByAnotherPersonIsRefused: bob, signed in without his
// second factor, approves; at the identity provider's step-up someone else
// (alice) signs in in his browser. The decision is not recorded and the
// refused-decision page says so, with the navigation, at both widths.
func TestBrowserStepUpByAnotherPersonIsRefused(t *testing.T) {
	browsertest.Chromium(t)
	d := startDemo(t)
	bob := d.person(t, "bob")
	bob.login(t, false)
	id := bob.actionableIDs(t)["restart"]
	bob.open(t, id)
	bob.clickNav(t, `[data-testid="approve-button"]`)
	if got := bob.waitFor(t, "password-form", "request-page"); got != "password-form" {
		t.Fatalf("approving without a second factor did not ask for a step-up (%s)", got)
	}
	other := &person{demoUser: d.users["alice"], base: d.base, ctx: bob.ctx}
	other.authenticate(t, true)
	bob.drainExpected(t, "403")
	if bob.count(t, `[data-testid="decision-refused"]`) != 1 || bob.count(t, `[data-testid="portal-nav"]`) != 1 {
		t.Fatalf("a step-up by another person did not end on the refused page with navigation: %s", bob.text(t, "body"))
	}
	both(t, bob, "decision-refused")
	bob.open(t, id)
	if s := bob.state(t); s != "pending" {
		t.Errorf("the refused decision changed the request: %s", s)
	}
}
