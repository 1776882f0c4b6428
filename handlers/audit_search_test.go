package handlers

import (
	"bufio"
	"context"
	"encoding/csv"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/bundle"
	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/models/audit/search"
	"github.com/countersign/countersign/models/audit/search/searchtest"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/session"
)

var (
	userAuditorRole = &session.User{Subject: "aud-sub", Username: "audrey", Name: "Audrey", Roles: []string{"auditor"}}
	userAdminRole   = &session.User{Subject: "adm-sub", Username: "root", Name: "Ada Admin", Roles: []string{"admin"}}
	userApprover    = &session.User{Subject: "appr-sub", Username: "paula", Name: "Paula", Roles: []string{"approver"}}
	// userFixtureAlice made request REQ-R1 of the search fixture and has
	// no role: she sees her own requests only.
	userFixtureAlice = &session.User{Subject: "oidc-alice", Username: "alice", Name: "Alice"}
)

// auditFixture is the search fixture in SQLite behind the audit pages.
type auditFixture struct {
	store *models.Store
	key   *proof.Key
	cp    *proof.Checkpointer
	h     *AuditLog
}

func newAuditFixture(t *testing.T) *auditFixture {
	t.Helper()
	st := storetest.SQLite(t).Open(t)
	searchtest.Seed(t, st)
	key, cp := newCheckpointer(t, st)
	svc := approval.New(st, approval.Config{ApproverRoles: []string{"approver"}})
	h := NewAuditLog(search.NewSearcher(st), AuditLogOptions{Prover: cp, Requests: svc, MattermostURL: "https://chat.example.com/"})
	return &auditFixture{store: st, key: key, cp: cp, h: h}
}

// newCheckpointer returns a fresh audit signing key and a checkpointer
// signing st's audit log with it.
func newCheckpointer(t *testing.T, st *models.Store) (*proof.Key, *proof.Checkpointer) {
	t.Helper()
	key, _, err := proof.GenerateKey("cs.example.com/audit")
	if err != nil {
		t.Fatal(err)
	}
	cp, err := proof.NewCheckpointer(st, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, cp
}

// serve answers target as u (nil: anonymous) with the audit routes on
// testEcho.
func (f *auditFixture) serve(u *session.User, target string) *httptest.ResponseRecorder {
	e := testEcho(u, nil)
	e.GET("/audit", f.h.Search)
	e.GET("/audit/export.csv", f.h.ExportCSV)
	e.GET("/audit/export.jsonl", f.h.ExportJSONL)
	e.GET("/audit/bundle", f.h.Bundle)
	e.GET("/audit/receipt/:seq", f.h.Receipt)
	e.GET("/audit/receipt/:seq/view", f.h.ReceiptPage)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec
}

func (f *auditFixture) page(t *testing.T, u *session.User, target string, want int) *goquery.Document {
	t.Helper()
	rec := f.serve(u, target)
	if rec.Code != want {
		t.Fatalf("%s: status %d, want %d: %s", target, rec.Code, want, rec.Body.String())
	}
	doc, err := goquery.NewDocumentFromReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func rowSeqs(doc *goquery.Document) []int64 {
	out := []int64{}
	doc.Find(`[data-testid="audit-row"]`).Each(func(_ int, s *goquery.Selection) {
		n, _ := strconv.ParseInt(s.AttrOr("data-seq", ""), 10, 64)
		out = append(out, n)
	})
	return out
}

func TestAuditSearchPage(t *testing.T) {
	f := newAuditFixture(t)
	doc := f.page(t, userAuditorRole, "/audit?actor=deploy-bot&purpose=INC-4211", http.StatusOK)
	if got := rowSeqs(doc); !reflect.DeepEqual(got, []int64{6, 5, 2}) {
		t.Fatalf("rows %v", got)
	}
	// The form keeps the filters, so the page's URL is the search.
	if v := doc.Find(`[data-testid="f-actor"]`).AttrOr("value", ""); v != "deploy-bot" {
		t.Fatalf("actor field %q", v)
	}
	if v := doc.Find(`[data-testid="f-purpose"]`).AttrOr("value", ""); v != "INC-4211" {
		t.Fatalf("purpose field %q", v)
	}
	if doc.Find(`form[data-testid="audit-form"]`).AttrOr("method", "") != "get" {
		t.Fatal("the search form must be a GET")
	}
	row := doc.Find(`[data-testid="audit-row"][data-seq="5"]`)
	if href := row.Find(`[data-testid="row-request"]`).AttrOr("href", ""); href != "/requests/REQ-R2" {
		t.Fatalf("request link %q", href)
	}
	if href := row.Find(`[data-testid="row-thread"]`).AttrOr("href", ""); href != "https://chat.example.com/acme/pl/post-r2" {
		t.Fatalf("thread link %q", href)
	}
	if href := row.Find(`[data-testid="row-receipt"]`).AttrOr("href", ""); href != "/audit/receipt/5/view" {
		t.Fatalf("receipt link %q", href)
	}
	if n := doc.Find(`[data-testid="row-receipt"]`).Length(); n != 1 {
		t.Fatalf("%d receipt links; only decision events have one", n)
	}
	if s := strings.TrimSpace(row.Find(`[data-testid="row-state"]`).Text()); s != "denied" {
		t.Fatalf("state %q", s)
	}
	csvURL, _ := url.Parse(doc.Find(`[data-testid="export-csv"]`).AttrOr("href", ""))
	if csvURL.Path != "/audit/export.csv" || csvURL.Query().Get("actor") != "deploy-bot" || csvURL.Query().Get("purpose") != "INC-4211" {
		t.Fatalf("export link %v", csvURL)
	}

	// Selected states and verdict are kept in the form.
	doc = f.page(t, userAdminRole, "/audit?state=pending&state=denied&verdict=deny", http.StatusOK)
	if got := rowSeqs(doc); !reflect.DeepEqual(got, []int64{5}) {
		t.Fatalf("rows %v", got)
	}
	checked := doc.Find(`[data-testid="f-states"] input[checked]`).Map(func(_ int, s *goquery.Selection) string { return s.AttrOr("value", "") })
	if !reflect.DeepEqual(checked, []string{"pending", "denied"}) {
		t.Fatalf("checked states %v", checked)
	}
	if v := doc.Find(`[data-testid="f-verdict"] option[selected]`).AttrOr("value", ""); v != "deny" {
		t.Fatalf("verdict %q", v)
	}

	// Hostile text is searched as text.
	doc = f.page(t, userAuditorRole, "/audit?purpose="+url.QueryEscape(`'; DROP TABLE audit_events; --`), http.StatusOK)
	if got := rowSeqs(doc); !reflect.DeepEqual(got, []int64{9, 8}) {
		t.Fatalf("hostile purpose rows %v", got)
	}
	doc = f.page(t, userAuditorRole, "/audit?purpose=nothingmatches", http.StatusOK)
	if doc.Find(`[data-testid="audit-empty"]`).Length() != 1 {
		t.Fatal("no empty notice")
	}
}

func TestAuditSearchPaging(t *testing.T) {
	f := newAuditFixture(t)
	target := "/audit?limit=3&purpose=" + url.QueryEscape("")
	var seen []int64
	for pages := 0; target != ""; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		doc := f.page(t, userAuditorRole, target, http.StatusOK)
		rows := rowSeqs(doc)
		if len(rows) == 0 || len(rows) > 3 {
			t.Fatalf("page %d: %v", pages, rows)
		}
		seen = append(seen, rows...)
		target = doc.Find(`[data-testid="next-page"]`).AttrOr("href", "")
		if pages > 0 && doc.Find(`[data-testid="first-page"]`).Length() != 1 {
			t.Fatal("later pages link back to the newest")
		}
	}
	if !reflect.DeepEqual(seen, []int64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}) {
		t.Fatalf("pages gave %v", seen)
	}
}

func TestAuditSearchRefusesBadFiltersClearly(t *testing.T) {
	f := newAuditFixture(t)
	for target, field := range map[string]string{
		"/audit?from=yesterday":                "from",
		"/audit?to=2026-02-30":                 "to",
		"/audit?state=open":                    "state",
		"/audit?purpose=%22*%22":               "purpose",
		"/audit?before=x":                      "before",
		"/audit?from=2026-03-02&to=2026-03-01": "to",
	} {
		doc := f.page(t, userAuditorRole, target, http.StatusBadRequest)
		msg := doc.Find(`[data-testid="audit-error"]`).Text()
		if !strings.Contains(msg, "Check the "+field+" filter") {
			t.Errorf("%s: message %q", target, msg)
		}
		if doc.Find(`[data-testid="audit-row"]`).Length() != 0 {
			t.Errorf("%s: results shown with an error", target)
		}
	}
	doc := f.page(t, userAuditorRole, "/audit?from=yesterday&actor=alice", http.StatusBadRequest)
	if doc.Find(`[data-testid="f-from"]`).AttrOr("value", "") != "yesterday" || doc.Find(`[data-testid="f-actor"]`).AttrOr("value", "") != "alice" {
		t.Fatal("the form must keep what was typed")
	}
	for _, target := range []string{"/audit/export.csv?from=yesterday", "/audit/export.jsonl?verdict=maybe", "/audit/bundle?from=abc", "/audit/bundle?from=7&to=3"} {
		if rec := f.serve(userAuditorRole, target); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d", target, rec.Code)
		}
	}
}

func TestAuditPagesNeedTheAuditorRole(t *testing.T) {
	f := newAuditFixture(t)
	for _, target := range []string{"/audit", "/audit/export.csv", "/audit/export.jsonl", "/audit/bundle"} {
		for _, u := range []*session.User{userApprover, userFixtureAlice, userEve} {
			if rec := f.serve(u, target); rec.Code != http.StatusForbidden {
				t.Errorf("%s as %s: status %d", target, u.Username, rec.Code)
			}
		}
		if rec := f.serve(nil, target); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s anonymous: status %d", target, rec.Code)
		}
		if rec := f.serve(userAdminRole, target); rec.Code != http.StatusOK {
			t.Errorf("%s as admin: status %d", target, rec.Code)
		}
	}
}

func TestAuditExportEndpoints(t *testing.T) {
	f := newAuditFixture(t)
	q, _ := search.ParseQuery(url.Values{"channel": {"ops"}})
	want, err := search.NewSearcher(f.store).Search(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	rec := f.serve(userAuditorRole, "/audit/export.csv?channel=ops")
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") ||
		!strings.HasPrefix(rec.Header().Get("Content-Disposition"), `attachment; filename="countersign-audit-`) {
		t.Fatalf("csv: %d %v", rec.Code, rec.Header())
	}
	records, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil || len(records) != len(want.Hits)+1 {
		t.Fatalf("csv: %d records for %d hits (%v)", len(records), len(want.Hits), err)
	}
	for i, h := range want.Hits {
		if records[i+1][0] != strconv.FormatInt(h.Event.Seq, 10) || search.UnCSVCell(records[i+1][7]) != h.Event.Purpose {
			t.Fatalf("csv row %d: %v", i, records[i+1])
		}
		if records[i+1][10] != "{"+strings.TrimPrefix(h.Event.Payload, "{") || !strings.HasPrefix(records[i+1][10], "{") {
			t.Fatalf("csv payload %q", records[i+1][10])
		}
	}
	rec = f.serve(userAuditorRole, "/audit/export.jsonl?channel=ops")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("jsonl: %d %v", rec.Code, rec.Header())
	}
	sc := bufio.NewScanner(rec.Body)
	i := 0
	for ; sc.Scan(); i++ {
		var e audit.Event
		if err := e.UnmarshalJSON(sc.Bytes()); err != nil || !reflect.DeepEqual(e, want.Hits[i].Event) {
			t.Fatalf("jsonl line %d: %v %+v", i, err, e)
		}
	}
	if i != len(want.Hits) {
		t.Fatalf("%d jsonl lines, want %d", i, len(want.Hits))
	}
}

func TestAuditBundleDownloadVerifies(t *testing.T) {
	f := newAuditFixture(t)
	rec := f.serve(userAuditorRole, "/audit/bundle?from=3&to=7")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Content-Disposition"), "countersign-audit-bundle-3-7.jsonl") {
		t.Fatalf("bundle: %d %v", rec.Code, rec.Header())
	}
	rep, err := bundle.Verify(strings.NewReader(rec.Body.String()), f.key.VerifierKey())
	if err != nil || !rep.Valid() {
		t.Fatalf("bundle does not verify: %v %+v", err, rep)
	}
}

func TestAuditReceiptDownload(t *testing.T) {
	f := newAuditFixture(t)
	get := func(u *session.User, seq string) *httptest.ResponseRecorder { return f.serve(u, "/audit/receipt/"+seq) }
	rec := get(userAuditorRole, "5")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("receipt: %d %s", rec.Code, rec.Body.String())
	}
	rc, err := proof.ParseReceipt(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := proof.VerifyReceipt(rc, f.key.VerifierKey()); err != nil || rc.Event.Seq != 5 {
		t.Fatalf("receipt does not verify: %v", err)
	}
	// A requester without a role gets receipts of her own request only.
	if rec := get(userFixtureAlice, "3"); rec.Code != http.StatusOK {
		t.Fatalf("own request's receipt: %d", rec.Code)
	}
	for _, seq := range []string{"5", "10", "999", "abc", "0"} {
		if rec := get(userFixtureAlice, seq); rec.Code != http.StatusNotFound {
			t.Errorf("receipt %s as alice: %d", seq, rec.Code)
		}
	}
	if rec := get(nil, "3"); rec.Code != http.StatusUnauthorized {
		t.Fatalf("anonymous: %d", rec.Code)
	}
}

// TestRequestPageLinksDecisionReceipts: each decision on the request page
// links its receipt, says when no checkpoint covers it yet, and the linked
// receipt verifies offline.
func TestRequestPageLinksDecisionReceipts(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	key, cp := newCheckpointer(t, f.store)
	f.h = NewRequests(f.svc, RequestsOptions{Receipts: cp})
	r := f.byAction["rotate-secret"]
	f.decide(t, r, userAlice, models.VerdictApprove, "")
	f.decide(t, r, userBob, models.VerdictDeny, "not during the freeze")

	page := f.get(t, userAuditor, "/requests/"+r.ID)
	links := page.doc.Find(`[data-testid="decision-receipt-link"]`)
	if links.Length() != 2 || page.doc.Find(`[data-testid="decision-receipt-pending"]`).Length() != 2 {
		t.Fatalf("%d receipt links, %d pending notes", links.Length(), page.doc.Find(`[data-testid="decision-receipt-pending"]`).Length())
	}
	evs, err := cp.DecisionEvents(context.Background(), r.ID)
	if err != nil || len(evs) != 2 {
		t.Fatalf("decision events %v %v", evs, err)
	}
	for i, ev := range evs {
		if href := links.Eq(i).AttrOr("href", ""); href != "/audit/receipt/"+strconv.FormatInt(ev.Seq, 10) {
			t.Fatalf("decision %d links %q, want event %d", i, href, ev.Seq)
		}
	}

	// Downloading the receipt signs a checkpoint; the receipt verifies and
	// the page no longer says the decisions are uncovered.
	af := &auditFixture{store: f.store, key: key, cp: cp, h: NewAuditLog(search.NewSearcher(f.store), AuditLogOptions{Prover: cp, Requests: f.svc})}
	rec := af.serve(userBob, links.Eq(1).AttrOr("href", ""))
	if rec.Code != http.StatusOK {
		t.Fatalf("receipt: %d", rec.Code)
	}
	rc, err := proof.ParseReceipt(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := proof.VerifyReceipt(rc, key.VerifierKey()); err != nil || rc.Event.Type != "decision.deny" || rc.Event.ActorID != userBob.Subject {
		t.Fatalf("receipt: %v %+v", err, rc.Event)
	}
	page = f.get(t, userAuditor, "/requests/"+r.ID)
	if n := page.doc.Find(`[data-testid="decision-receipt-pending"]`).Length(); n != 0 {
		t.Fatalf("%d pending notes after a checkpoint", n)
	}
}

// TestAuditSearchCountsAndMarksMatches: the page says how many events it
// shows and whether older ones follow, and marks the purpose words the
// search matched, as escaped text.
func TestAuditSearchCountsAndMarksMatches(t *testing.T) {
	f := newAuditFixture(t)
	doc := f.page(t, userAuditorRole, "/audit?actor=deploy-bot&purpose=INC-4211", http.StatusOK)
	if n := strings.TrimSpace(doc.Find(`[data-testid="audit-count-n"]`).Text()); n != "3" {
		t.Fatalf("count %q, want 3", n)
	}
	if c := doc.Find(`[data-testid="audit-count"]`).Text(); !strings.Contains(c, "events match") || strings.Contains(c, "next page") {
		t.Fatalf("count line %q", c)
	}
	doc.Find(`[data-testid="audit-row"]`).Each(func(_ int, row *goquery.Selection) {
		marks := row.Find(`[data-testid="row-purpose"] mark`)
		if marks.Length() == 0 || !strings.EqualFold(marks.First().Text(), "INC-4211") {
			t.Errorf("row %s: marks %q in purpose %q", row.AttrOr("data-seq", ""), marks.Text(), row.Find(`[data-testid="row-purpose"]`).Text())
		}
	})

	// A page with more behind it says so.
	doc = f.page(t, userAuditorRole, "/audit?limit=3", http.StatusOK)
	if c := doc.Find(`[data-testid="audit-count"]`).Text(); !strings.Contains(c, "newest") || !strings.Contains(c, "next page") {
		t.Fatalf("count line with more: %q", c)
	}
	// Without a purpose search nothing is marked.
	if n := doc.Find("mark").Length(); n != 0 {
		t.Fatalf("%d marks without a purpose search", n)
	}
}

// TestAuditSearchKeepsExportsWhenRefused: a refused filter keeps the form,
// the message and the export links, which carry the accepted filters and
// say which one they leave out.
func TestAuditSearchKeepsExportsWhenRefused(t *testing.T) {
	f := newAuditFixture(t)
	doc := f.page(t, userAuditorRole, "/audit?actor=alice&from=yesterday&channel=ops", http.StatusBadRequest)
	if doc.Find(`[data-testid="audit-error"]`).Length() != 1 || doc.Find(`form[data-testid="audit-form"]`).Length() != 1 {
		t.Fatal("refused search: no message or no form")
	}
	csvURL, err := url.Parse(doc.Find(`[data-testid="export-csv"]`).AttrOr("href", ""))
	if err != nil || csvURL.Path != "/audit/export.csv" {
		t.Fatalf("export link %v", csvURL)
	}
	q := csvURL.Query()
	if q.Get("actor") != "alice" || q.Get("channel") != "ops" || q.Has("from") {
		t.Fatalf("export link carries %v, want the accepted filters only", q)
	}
	if jl := doc.Find(`[data-testid="export-jsonl"]`).AttrOr("href", ""); !strings.HasPrefix(jl, "/audit/export.jsonl?") {
		t.Fatalf("JSON Lines link %q", jl)
	}
	if note := doc.Find(`[data-testid="export-note"]`).Text(); !strings.Contains(note, "from") {
		t.Fatalf("export note %q does not name the refused filter", note)
	}
	if rec := f.serve(userAuditorRole, csvURL.RequestURI()); rec.Code != http.StatusOK {
		t.Fatalf("the kept export link answers %d", rec.Code)
	}
	if doc.Find(`[data-testid="audit-row"], [data-testid="audit-count"]`).Length() != 0 {
		t.Fatal("a refused search shows results or a count")
	}
}

// TestAuditReceiptPage: the receipt page says what the receipt proves,
// links the JSON download and gives the exact offline command, which is
// the real subcommand with the file the download saves and the log's key;
// the same people as for the download may see it.
func TestAuditReceiptPage(t *testing.T) {
	f := newAuditFixture(t)
	doc := f.page(t, userAuditorRole, "/audit/receipt/5/view", http.StatusOK)
	if doc.Find(`[data-testid="receipt-verified"]`).Length() != 1 {
		t.Fatalf("receipt not shown as verified: %s", doc.Find(`[data-testid="receipt-page"]`).Text())
	}
	if got := doc.Find(`[data-testid="receipt-type"]`).Text(); got != "decision.deny" {
		t.Fatalf("event type %q", got)
	}
	if href := doc.Find(`[data-testid="receipt-request"]`).AttrOr("href", ""); href != "/requests/REQ-R2" {
		t.Fatalf("request link %q", href)
	}
	dl := doc.Find(`[data-testid="receipt-download"]`)
	if dl.AttrOr("href", "") != "/audit/receipt/5" || dl.AttrOr("download", "") != "countersign-receipt-5.json" {
		t.Fatalf("download link %q as %q", dl.AttrOr("href", ""), dl.AttrOr("download", ""))
	}
	cmd := doc.Find(`[data-testid="receipt-verify-command"]`).Text()
	want := "countersign audit verify-receipt --receipt countersign-receipt-5.json --key " + f.key.VerifierKey()
	if cmd != want {
		t.Fatalf("verify command %q, want %q", cmd, want)
	}
	if b := doc.Find(`[data-testid="copy-verify-command"]`); b.AttrOr("data-copy-target", "") != doc.Find(`[data-testid="receipt-verify-command"]`).AttrOr("id", "-") {
		t.Fatal("the copy button does not point at the command")
	}
	if size := doc.Find(`[data-testid="receipt-tree-size"]`).Text(); !strings.HasPrefix(size, "10 ") {
		t.Fatalf("tree size %q", size)
	}
	if n := doc.Find(`[data-testid="receipt-proof-length"]`).Text(); !strings.Contains(n, "sibling hashes") {
		t.Fatalf("proof summary %q", n)
	}
	if doc.Find(`[data-testid="receipt-note"]`).Text() == "" || doc.Find(`[data-testid="receipt-root"]`).Text() == "" {
		t.Fatal("no checkpoint shown")
	}
	// The downloaded file is what the page describes.
	rec := f.serve(userAuditorRole, "/audit/receipt/5")
	rc, err := proof.ParseReceipt(rec.Body.Bytes())
	if err != nil || rc.Event.Hash != doc.Find(`[data-testid="receipt-hash"]`).Text() {
		t.Fatalf("download differs from the page: %v", err)
	}
	// Access as for the download: her own request's event, nothing else.
	f.page(t, userFixtureAlice, "/audit/receipt/3/view", http.StatusOK)
	for _, seq := range []string{"5", "999", "x"} {
		if rec := f.serve(userFixtureAlice, "/audit/receipt/"+seq+"/view"); rec.Code != http.StatusNotFound {
			t.Errorf("receipt page %s as alice: %d", seq, rec.Code)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"cs.example.com/audit+1a2b3c4d+AbC/9=": "cs.example.com/audit+1a2b3c4d+AbC/9=",
		"a b":                                  "'a b'",
		"it's":                                 `'it'\''s'`,
		"":                                     "''",
		"$(rm -rf x)":                          "'$(rm -rf x)'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}
