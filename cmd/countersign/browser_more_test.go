package main

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/web/browsertest"
)

// TestBrowserAuditWindowsExecution drives headless Chromium through the
// pages added after the first flows, on one `countersign demo`: dave (the
// auditor) searches the audit log from the nav link by actor and purpose
// words, follows a result to the request page, reloads the shareable
// search URL, gets a clear message for a bad date, exports CSV; the
// request approved automatically by the policy shows the policy's
// explanation, its grant (never the token) and, once the example executor
// ran it, the execution after the approved content; /windows shows the
// policy in force and no open window while the window request waits; and
// carol, who has no role, is refused the audit log. Every page is checked
// for console errors and CSP violations (waitFor checks after each page).
func TestBrowserAuditWindowsExecution(t *testing.T) {
	browsertest.Chromium(t)
	d := startDemo(t)
	dave := d.person(t, "dave")

	var (
		searchURL string
		seqs      []string
		autoID    string
		policyRef string
	)
	steps := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"a_dave_searches_the_audit_log", func(t *testing.T) {
			dave.login(t, false)
			if dave.count(t, `[data-testid="nav-audit"]`) != 1 {
				t.Fatalf("the auditor's nav lacks the audit log link")
			}
			dave.clickNav(t, `[data-testid="nav-audit"]`)
			dave.waitFor(t, "audit-search")
			// Carol asked for the staging restart "flaky pod after deploy",
			// which the policy approved automatically.
			dave.typeInto(t, `[data-testid="f-actor"]`, "carol")
			dave.typeInto(t, `[data-testid="f-purpose"]`, "flaky pod")
			dave.clickNav(t, `[data-testid="f-submit"]`)
			if got := dave.waitFor(t, "audit-results", "audit-empty", "audit-error"); got != "audit-results" {
				t.Fatalf("search for carol's flaky pod request: %s: %.400s", got, dave.text(t, `[data-testid="audit-search"]`))
			}
			searchURL = dave.location(t)
			u, err := url.Parse(searchURL)
			if err != nil {
				t.Fatal(err)
			}
			if q := u.Query(); u.Path != "/audit" || q.Get("actor") != "carol" || q.Get("purpose") != "flaky pod" {
				t.Errorf("search URL %s does not carry the filters", searchURL)
			}
			seqs = evalJS[[]string](t, dave, `[...document.querySelectorAll('[data-testid="audit-row"]')].map(r => r.dataset.seq)`)
			actors := evalJS[[]string](t, dave, `[...document.querySelectorAll('[data-testid="row-actor"]')].map(e => e.textContent.trim().toLowerCase())`)
			purposes := evalJS[[]string](t, dave, `[...document.querySelectorAll('[data-testid="row-purpose"]')].map(e => e.textContent.trim())`)
			t.Logf("%d rows; actors %v; purposes %v", len(seqs), actors, purposes)
			if len(seqs) == 0 {
				t.Fatalf("no rows for carol's request")
			}
			// "Actor" in any capacity: carol acted or was the requester, so
			// the policy's, the grant's and the executor's events on her
			// request are found too, and at least one row is her own act.
			var hers bool
			for i := range seqs {
				hers = hers || strings.Contains(actors[i], "carol")
				if purposes[i] != "flaky pod after deploy" {
					t.Errorf("row %s: purpose %q, want the flaky pod request's", seqs[i], purposes[i])
				}
			}
			if !hers {
				t.Errorf("no row acted by carol among %v", actors)
			}
			if len(purposes) != len(seqs) {
				t.Errorf("%d purposes for %d rows", len(purposes), len(seqs))
			}
			// The filter panel reads as labelled fields, not a squeezed
			// one-line bar: every text field and select is wide enough to
			// read, the button is button-sized, and the page says how many
			// events it shows and marks the purpose words that matched.
			widths := evalJS[[]int](t, dave, `[...document.querySelectorAll('[data-testid="audit-form"] input:not([type=checkbox]), [data-testid="audit-form"] select')].map(e => Math.round(e.getBoundingClientRect().width))`)
			for i, w := range widths {
				if w < 120 {
					t.Errorf("filter field %d is %d px wide at 1280, want at least 120 (all: %v)", i, w, widths)
				}
			}
			if h := evalJS[int](t, dave, `Math.round(document.querySelector('[data-testid="f-submit"]').getBoundingClientRect().height)`); h > 80 {
				t.Errorf("the search button is %d px tall", h)
			}
			if n := dave.text(t, `[data-testid="audit-count-n"]`); n != strconv.Itoa(len(seqs)) {
				t.Errorf("result count %q, the page has %d rows", n, len(seqs))
			}
			marks := evalJS[[]string](t, dave, `[...document.querySelectorAll('[data-testid="row-purpose"] mark')].map(m => m.textContent.toLowerCase())`)
			if len(marks) < 2*len(seqs) || marks[0] != "flaky" || marks[1] != "pod" {
				t.Errorf("marked words %v, want flaky and pod in every row", marks)
			}
			browsertest.Screenshot(t, dave.ctx, "audit-search")

			// The CSV export of the same search, fetched with the session.
			href := evalJS[string](t, dave, `document.querySelector('[data-testid="export-csv"]').getAttribute('href')`)
			if !strings.Contains(href, "actor=carol") || !strings.Contains(href, "purpose=flaky") {
				t.Errorf("CSV export link %q does not carry the filters", href)
			}
			csv := evalJS[string](t, dave, `(() => { const x = new XMLHttpRequest(); x.open('GET', `+jsString(href)+`, false); x.send();
				return x.status + "\n" + x.getResponseHeader('Content-Type') + "\n" + x.responseText })()`)
			parts := strings.SplitN(csv, "\n", 3)
			if len(parts) < 3 || parts[0] != "200" || !strings.HasPrefix(parts[1], "text/csv") {
				t.Fatalf("CSV export answered %.200q, want 200 text/csv", csv)
			}
			if lines := strings.Count(strings.TrimSpace(parts[2]), "\n"); lines != len(seqs) {
				t.Errorf("CSV has %d data lines, the page %d rows:\n%s", lines, len(seqs), parts[2])
			}
			if !strings.Contains(parts[2], "flaky pod after deploy") {
				t.Errorf("CSV lacks the request's purpose:\n%s", parts[2])
			}
		}},
		{"b_search_url_is_shareable_and_leads_to_the_request", func(t *testing.T) {
			u, _ := url.Parse(searchURL)
			if status := dave.navigate(t, u.RequestURI()); status != 200 {
				t.Fatalf("reloading the search URL: status %d", status)
			}
			dave.waitFor(t, "audit-results")
			again := evalJS[[]string](t, dave, `[...document.querySelectorAll('[data-testid="audit-row"]')].map(r => r.dataset.seq)`)
			if strings.Join(again, ",") != strings.Join(seqs, ",") {
				t.Errorf("the shared URL shows rows %v, the search showed %v", again, seqs)
			}
			if v := evalJS[string](t, dave, `document.querySelector('[data-testid="f-actor"]').value`); v != "carol" {
				t.Errorf("the form lost the actor filter: %q", v)
			}
			dave.phone(t, "audit-phone")
			autoID = dave.text(t, `[data-testid="audit-row"] [data-testid="row-request"]`)
			dave.clickNav(t, `[data-testid="audit-row"] [data-testid="row-request"]`)
			dave.waitFor(t, "request-page")
			if s := dave.text(t, `[data-testid="purpose"]`); !strings.Contains(s, "flaky pod after deploy") {
				t.Errorf("the result's link led to a request with purpose %q", s)
			}
			if !strings.HasSuffix(dave.location(t), "/requests/"+autoID) {
				t.Errorf("the result's link led to %s, want request %s", dave.location(t), autoID)
			}
		}},
		{"b2_receipt_and_integrity_pages", func(t *testing.T) {
			// The receipt page of a result: what it proves, the download
			// and the exact offline command.
			if status := dave.navigate(t, "/audit/receipt/"+seqs[0]+"/view"); status != 200 {
				t.Fatalf("receipt page: status %d", status)
			}
			dave.waitFor(t, "receipt-page")
			if dave.count(t, `[data-testid="receipt-verified"]`) != 1 {
				t.Errorf("receipt page: %s", dave.text(t, `[data-testid="receipt-page"]`))
			}
			cmd := dave.text(t, `[data-testid="receipt-verify-command"]`)
			if !strings.HasPrefix(cmd, "countersign audit verify-receipt --receipt countersign-receipt-"+seqs[0]+".json --key ") {
				t.Errorf("verify command %q", cmd)
			}
			if href := evalJS[string](t, dave, `document.querySelector('[data-testid="receipt-download"]').getAttribute('href')`); href != "/audit/receipt/"+seqs[0] {
				t.Errorf("download link %q", href)
			}
			browsertest.Screenshot(t, dave.ctx, "receipt")
			dave.phone(t, "receipt-phone")

			// The integrity page says what is not yet signed.
			dave.clickNav(t, `[data-testid="portal-nav"] a[href="/audit/integrity"]`)
			dave.waitFor(t, "integrity")
			if dave.count(t, `[data-testid="integrity-unsigned"]`) != 1 {
				t.Errorf("integrity page does not say what is not yet signed: %s", dave.text(t, `[data-testid="integrity"]`))
			}
			browsertest.Screenshot(t, dave.ctx, "integrity")
			dave.phone(t, "integrity-phone")

			// An error page keeps the navigation and labels its reference.
			if status := dave.navigate(t, "/requests/REQ-NOPE"); status != 404 {
				t.Errorf("unknown request: status %d", status)
			}
			dave.drainExpected(t, "404")
			if dave.count(t, `[data-testid="portal-nav"]`) != 1 || !strings.Contains(dave.text(t, `[data-testid="error-message"]`), "may not have access") {
				t.Errorf("error page: %s", dave.text(t, `[data-testid="main"]`))
			}
			browsertest.Screenshot(t, dave.ctx, "error-404")
			dave.phone(t, "error-404-phone")
		}},
		{"c_bad_date_is_a_clear_message", func(t *testing.T) {
			if status := dave.navigate(t, "/audit?actor=carol&from=last+tuesday"); status != 400 {
				t.Errorf("a bad date: status %d, want 400", status)
			}
			dave.drainExpected(t, "400")
			msg := dave.text(t, `[data-testid="audit-error"]`)
			t.Logf("bad date message: %s", msg)
			if !strings.Contains(msg, "from") || !strings.Contains(msg, "Check the") {
				t.Errorf("bad date message %q does not name the from filter", msg)
			}
			if v := evalJS[string](t, dave, `document.querySelector('[data-testid="f-from"]').value`); v != "last tuesday" {
				t.Errorf("the form lost what was typed: from=%q", v)
			}
			if dave.count(t, `[data-testid="audit-results"]`) != 0 {
				t.Errorf("a refused search still shows results")
			}
			// The exports stay, with the accepted filters only, and say so.
			href := evalJS[string](t, dave, `document.querySelector('[data-testid="export-csv"]').getAttribute('href')`)
			if !strings.Contains(href, "actor=carol") || strings.Contains(href, "from=") {
				t.Errorf("export link on a refused search %q, want the accepted filters only", href)
			}
			if note := dave.text(t, `[data-testid="export-note"]`); !strings.Contains(note, "from") {
				t.Errorf("export note %q does not name the refused filter", note)
			}
			browsertest.Screenshot(t, dave.ctx, "audit-bad-date")
			dave.phone(t, "audit-bad-date-phone")
		}},
		{"d_auto_approved_request_shows_grant_then_execution", func(t *testing.T) {
			dave.open(t, autoID)
			if s := dave.state(t); s != "approved" && s != "executed" {
				t.Errorf("the policy's auto-approved request is %q, want approved or executed", s)
			}
			policyRef = dave.text(t, `[data-testid="policy"] code`)
			expl := dave.text(t, `[data-testid="policy-explanation"]`)
			t.Logf("policy %s, explanation: %s", policyRef, expl)
			if policyRef == "" {
				t.Errorf("the request page names no policy")
			}
			// In words: what the policy decided and by which rule.
			if !strings.Contains(expl, "approved automatically") || !strings.Contains(expl, "rule staging-auto") {
				t.Errorf("policy explanation %q: want \"approved automatically\" by rule staging-auto", expl)
			}
			if dave.count(t, `[data-testid="section-grant"]`) != 1 {
				t.Fatalf("no grant panel on an approved request")
			}
			// Wait, with a bounded poll of the page, for the example
			// executor's run to show.
			deadline := time.Now().Add(30 * time.Second)
			for dave.count(t, `[data-testid="section-execution"] [data-testid="execution-state"]`) == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("no execution on the page after 30 s; grant: %s", dave.text(t, `[data-testid="section-grant"]`))
				}
				time.Sleep(250 * time.Millisecond)
				dave.open(t, autoID)
			}
			exec := dave.text(t, `[data-testid="execution-state"]`)
			t.Logf("execution: %s; grant: %s", exec, dave.text(t, `[data-testid="grant-summary"]`))
			if !strings.HasPrefix(exec, "succeeded") {
				t.Errorf("execution state %q, want a successful run", exec)
			}
			if s := dave.text(t, `[data-testid="execution-executor"]`); !strings.Contains(s, "example") {
				t.Errorf("executor %q, want the example executor", s)
			}
			if s := dave.text(t, `[data-testid="grant-state"]`); !strings.Contains(s, "redeemed") {
				t.Errorf("grant state %q after the run, want redeemed", s)
			}
			if dave.text(t, `[data-testid="grant-jti"]`) == "" {
				t.Errorf("the grant panel does not name the grant")
			}
			// Never the token: no JWT anywhere in the page's HTML.
			html := evalJS[string](t, dave, `document.documentElement.outerHTML`)
			if m := regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.`).FindString(html); m != "" {
				t.Errorf("the page shows a token: %s…", m[:20])
			}
			// What happened after approval comes after what was approved.
			order := evalJS[bool](t, dave, `(() => {
				const q = id => document.querySelector('[data-testid="' + id + '"]');
				const after = (a, b) => !!(q(a).compareDocumentPosition(q(b)) & Node.DOCUMENT_POSITION_FOLLOWING);
				return after("request-summary", "section-grant") && after("section-conversation", "section-grant") && after("section-grant", "section-execution");
			})()`)
			if !order {
				t.Errorf("grant and execution are not shown after the approved content")
			}
			browsertest.Screenshot(t, dave.ctx, "request-executed")
			dave.phone(t, "request-executed-phone")
		}},
		{"e_windows_page_shows_policy_and_waiting_window", func(t *testing.T) {
			dave.clickNav(t, `[data-testid="portal-nav"] a[href="/windows"]`)
			dave.waitFor(t, "windows")
			// The request names the policy version and its rule
			// (FILE@VERSION#RULE); the same version is in force.
			inForce, _, _ := strings.Cut(policyRef, "#")
			if s := dave.text(t, `[data-testid="policy-ref"]`); s == "" || s != inForce {
				t.Errorf("policy in force %q, the auto-approved request was decided under %q", s, policyRef)
			}
			if dave.count(t, `[data-testid="policy-problem"]`) != 0 {
				t.Errorf("the demo's own policy is reported as refused: %s", dave.text(t, `[data-testid="policy-problem"]`))
			}
			// The seeded window request waits for a lead, so none is open.
			if dave.count(t, `[data-testid="windows-none"]`) != 1 || dave.count(t, `[data-testid="window-row"]`) != 0 {
				t.Errorf("a window is shown open before its request was approved: %s", dave.text(t, `[data-testid="windows"]`))
			}
			if s := dave.text(t, `[data-testid="windows-declared"] code`); s != "prod" {
				t.Errorf("declared windows %q, want prod", s)
			}
			browsertest.Screenshot(t, dave.ctx, "windows")
			dave.phone(t, "windows-phone")
			// The list of all requests, at both widths (axe checks each).
			if status := dave.navigate(t, "/requests"); status != 200 {
				t.Fatalf("/requests: status %d", status)
			}
			browsertest.Screenshot(t, dave.ctx, "requests")
			dave.phone(t, "requests-phone")
			// The window request itself, found through the audit log.
			if status := dave.navigate(t, "/audit?action=window.open&purpose=release"); status != 200 {
				t.Fatalf("audit search for the window request: status %d", status)
			}
			if dave.waitFor(t, "audit-results", "audit-empty") != "audit-results" {
				t.Fatalf("no audit event for the seeded window request")
			}
			dave.clickNav(t, `[data-testid="audit-row"] [data-testid="row-request"]`)
			dave.waitFor(t, "request-page")
			if s := dave.text(t, `[data-testid="action"]`); s != "window.open" {
				t.Errorf("action %q, want window.open", s)
			}
			if s := dave.state(t); s != "pending" {
				t.Errorf("window request %q, want pending", s)
			}
			if s := dave.text(t, `[data-testid="approvals-summary"]`); !strings.Contains(s, "0 of 1") {
				t.Errorf("window request approvals %q, want 0 of 1", s)
			}
		}},
		{"f_carol_is_refused_the_audit_log", func(t *testing.T) {
			carol := d.person(t, "carol")
			carol.login(t, false)
			if n := carol.count(t, `[data-testid="nav-audit"]`); n != 0 {
				t.Errorf("carol (no role) is offered the audit log link")
			}
			if status := carol.navigate(t, "/audit?actor=carol"); status != 403 {
				t.Errorf("carol opening /audit: status %d, want 403", status)
			}
			carol.drainExpected(t, "403")
			if carol.count(t, `[data-testid="audit-search"]`) != 0 {
				t.Errorf("carol is shown the audit search")
			}
			if status := carol.navigate(t, "/audit/export.csv?actor=carol"); status != 403 {
				t.Errorf("carol fetching the CSV export: status %d, want 403", status)
			}
			carol.drainExpected(t, "403")
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.fn) {
			return
		}
	}
}
