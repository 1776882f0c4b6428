package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/demodata"
)

func TestDashboardSectionsForApprover(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	f.decide(t, f.byAction["rotate-secret"], userBob, models.VerdictApprove, "rotation plan looks right")

	doc := f.page(t, userAlice, "/")
	if got := squish(doc.Find(byTestID("user-name"))); got != "Alice Approver" {
		t.Errorf("signed-in name %q", got)
	}

	actionable := doc.Find(byTestID("section-actionable"))
	if h := squish(actionable.Find("h2")); !strings.HasPrefix(h, "Needs your decision") {
		t.Errorf("first section heading %q", h)
	}
	want := []string{f.byAction["scale"].ID, f.byAction["rotate-secret"].ID, f.byAction["restart"].ID}
	if got := rowIDs(actionable); !sameIDs(got, want) {
		t.Errorf("actionable for alice = %v, want %v", got, want)
	}
	row := actionable.Find(`[data-request-id="` + f.byAction["rotate-secret"].ID + `"]`)
	if got := squish(row.Find(byTestID("request-action"))); got != "rotate-secret" {
		t.Errorf("row action %q", got)
	}
	if kind, _ := row.Find(byTestID("requester")).Attr("data-kind"); kind != "agent" {
		t.Errorf("agent request labelled %q", kind)
	}
	if got := squish(row.Find(byTestID("requester-sponsor"))); !strings.Contains(got, "dave") {
		t.Errorf("agent row does not name its sponsor: %q", got)
	}
	if got, _ := row.Find(byTestID("request-link")).Attr("href"); got != "/requests/"+f.byAction["rotate-secret"].ID {
		t.Errorf("row links to %q", got)
	}
	if st, _ := row.Find(byTestID("state-badge")).Attr("data-state"); st != "pending" {
		t.Errorf("row state badge %q", st)
	}

	// Alice decides and made no requests: an empty "your requests" is
	// noise for her, so it is left out.
	if n := doc.Find(byTestID("section-mine")).Length(); n != 0 {
		t.Errorf("an approver without requests gets an empty 'your requests' section")
	}

	recent := doc.Find(byTestID("section-recent"))
	drows := recent.Find(byTestID("decision-row"))
	if drows.Length() != 1 {
		t.Fatalf("recent decisions: %d rows", drows.Length())
	}
	if got := squish(drows.Find(byTestID("decision-approver"))); got != "Bob Approver" {
		t.Errorf("recent decision approver %q", got)
	}
	if v, _ := drows.Find(byTestID("verdict-badge")).Attr("data-verdict"); v != "approve" {
		t.Errorf("recent decision verdict %q", v)
	}

	counts := map[string]string{}
	doc.Find(byTestID("state-count")).Each(func(_ int, s *goquery.Selection) {
		st, _ := s.Attr("data-state")
		counts[st] = squish(s.Find(".count"))
		if href, _ := s.Attr("href"); href != "/requests?state="+st {
			t.Errorf("count badge %s links to %q", st, href)
		}
	})
	if counts["pending"] != "3" || counts["executed"] != "1" || len(counts) != 2 {
		t.Errorf("state counts %v, want pending 3, executed 1", counts)
	}

	// Sections come in the order: decide first, then (own, when
	// there are any), then recent.
	var order []string
	doc.Find(`section[data-testid^="section-"]`).Each(func(_ int, s *goquery.Selection) {
		id, _ := s.Attr("data-testid")
		order = append(order, id)
	})
	if !slices.Equal(order, []string{"section-actionable", "section-recent"}) {
		t.Errorf("section order %v", order)
	}
}

func TestDashboardCarolDoesNotSeeHerOwnRequestAsActionable(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	doc := f.page(t, userCarol, "/")
	got := rowIDs(doc.Find(byTestID("section-actionable")))
	want := []string{f.byAction["scale"].ID, f.byAction["rotate-secret"].ID}
	if !sameIDs(got, want) {
		t.Errorf("carol's actionable %v, want %v (not her own restart)", got, want)
	}
	mine := rowIDs(doc.Find(byTestID("section-mine")))
	if !slices.Equal(mine, []string{f.byAction["flush-cache"].ID, f.byAction["restart"].ID}) {
		t.Errorf("carol's own requests %v, want flush-cache then restart (newest first)", mine)
	}
	if href, _ := doc.Find(byTestID("mine-all-link")).Attr("href"); href != "/requests?requester=carol" {
		t.Errorf("link to all own requests %q", href)
	}
}

func TestDashboardSponsorDoesNotSeeHisAgentsRequestAsActionable(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	got := rowIDs(f.page(t, userDave, "/").Find(byTestID("section-actionable")))
	if slices.Contains(got, f.byAction["rotate-secret"].ID) {
		t.Errorf("dave sponsors deploy-bot but sees its request as actionable: %v", got)
	}
	if len(got) != 2 {
		t.Errorf("dave's actionable %v, want restart and scale", got)
	}
}

func TestDashboardWithoutRoleShowsOnlyOwnThings(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	doc := f.page(t, userEve, "/")
	// Eve can never decide: no "needs your decision" section, no filters.
	if doc.Find(byTestID("section-actionable")).Length() != 0 || doc.Find(byTestID("filter-form")).Length() != 0 {
		t.Error("a person who can never decide gets a 'needs your decision' section")
	}
	if doc.Find(byTestID("section-mine")).Length() != 1 {
		t.Error("a person without a role loses the list of their own requests")
	}
	if doc.Find(byTestID("section-recent")).Length() != 0 || doc.Find(byTestID("state-counts")).Length() != 0 {
		t.Error("a person without a role sees decisions or counts across all requests")
	}
}

func TestDashboardFilters(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	cases := []struct {
		query string
		want  []string
	}{
		{"requester=carol", []string{"restart"}},
		{"requester=%40carol", []string{"restart"}},
		{"requester=" + demodata.DeployBot.ID, []string{"rotate-secret"}},
		{"channel=releases", []string{"scale"}},
		{"channel=%7Eincidents", []string{"restart", "rotate-secret"}},
		{"action=rotate-secret", []string{"rotate-secret"}},
		{"channel=incidents&action=restart", []string{"restart"}},
		{"action=no-such-action", nil},
		// The dashboard's list is pending by definition; a state in the URL
		// does not widen it.
		{"state=executed", []string{"restart", "rotate-secret", "scale"}},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			doc := f.page(t, userAlice, "/?"+tc.query)
			var want []string
			for _, a := range tc.want {
				want = append(want, f.byAction[a].ID)
			}
			sec := doc.Find(byTestID("section-actionable"))
			if got := rowIDs(sec); !sameIDs(got, want) {
				t.Errorf("rows %v, want %v", got, want)
			}
			if len(want) == 0 && sec.Find(byTestID("empty")).Length() != 1 {
				t.Error("no rows and no empty-state text")
			}
			q, _ := url.ParseQuery(tc.query)
			for field, vals := range q {
				if field == "state" {
					continue
				}
				if got, _ := doc.Find(byTestID("filter-" + field)).Attr("value"); got != strings.TrimSpace(vals[0]) {
					t.Errorf("filter form %s = %q, want %q kept", field, got, vals[0])
				}
			}
		})
	}
	form := f.page(t, userAlice, "/").Find(byTestID("filter-form"))
	if m, _ := form.Attr("method"); m != "get" {
		t.Errorf("filter form method %q, want get (shareable URLs)", m)
	}
	if form.Find(byTestID("filter-state")).Length() != 0 {
		t.Error("dashboard filter offers a state although its list is always pending")
	}
	form.Find("input[name], select[name]").Each(func(_ int, in *goquery.Selection) {
		if name, _ := in.Attr("name"); !in.Parent().Is("label") {
			t.Errorf("filter field %s has no label", name)
		}
	})
}

func TestDashboardBadFilterIsABadRequest(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	for _, q := range []string{"after=not-a-cursor", "requester=" + strings.Repeat("x", 200)} {
		if r := f.get(t, userAlice, "/?"+q); r.code != http.StatusBadRequest {
			t.Errorf("%s: status %d (%v), want 400", q, r.code, r.err)
		}
	}
}

func TestDashboardPagingIsKeysetAndKeepsFilters(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	// 60 requests created within the same microsecond: only the id breaks
	// ties, which is exactly what keyset paging must get right.
	fixed := time.Now().UTC()
	same := approval.New(f.store, approval.Config{ApproverRoles: []string{"approver"}, Now: func() time.Time { return fixed }})
	created := createPending(t, same, 60, func(i int) approval.NewRequest {
		in := demodata.Requests(fixed)[0]
		in.Action, in.Params = "drain-node", map[string]any{"node": fmt.Sprintf("node-%02d", i)}
		return in
	})

	target := "/?action=drain-node&channel=incidents"
	var seen []string
	pages := 0
	for target != "" {
		pages++
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		doc := f.page(t, userAlice, target)
		sec := doc.Find(byTestID("section-actionable"))
		ids := rowIDs(sec)
		seen = append(seen, ids...)
		older, hasOlder := sec.Find(byTestID("older-link")).Attr("href")
		switch pages {
		case 1:
			if len(ids) != approval.DefaultPageSize || !hasOlder {
				t.Fatalf("page 1: %d rows, older link %v", len(ids), hasOlder)
			}
			if sec.Find(byTestID("newest-link")).Length() != 0 {
				t.Error("page 1 offers a link back to itself")
			}
		case 2:
			if len(ids) != approval.DefaultPageSize || !hasOlder {
				t.Fatalf("page 2: %d rows, older link %v", len(ids), hasOlder)
			}
			if href, _ := sec.Find(byTestID("newest-link")).Attr("href"); href != "/?action=drain-node&channel=incidents" {
				t.Errorf("newest link %q", href)
			}
		case 3:
			if len(ids) != 10 || hasOlder {
				t.Fatalf("page 3: %d rows, older link %v; want the last 10 and no older link", len(ids), hasOlder)
			}
		}
		if hasOlder {
			u, err := url.Parse(older)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			if u.Path != "/" || q.Get("action") != "drain-node" || q.Get("channel") != "incidents" || q.Get("after") == "" {
				t.Fatalf("older link %q does not keep the filters", older)
			}
		}
		target = older
	}
	if pages != 3 {
		t.Errorf("%d pages, want 3", pages)
	}
	if !sameIDs(seen, created) {
		t.Errorf("paging showed %d ids (%d distinct), want the 60 created exactly once", len(seen), len(idSet(seen)))
	}
	// Equal expiry times: soonest first, then by id, across pages.
	if !slices.IsSorted(seen) {
		t.Error("rows with equal expiry are not in id order across pages")
	}
}

func TestListShowsAllRequestsWithStateFilter(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	doc := f.page(t, userAuditor, "/requests")
	if got := rowIDs(doc.Find(byTestID("section-all"))); len(got) != 4 {
		t.Errorf("all requests: %v", got)
	}
	if doc.Find(byTestID("filter-state")).Length() != 1 {
		t.Error("no state filter on the full list")
	}

	doc = f.page(t, userAuditor, "/requests?state=executed")
	if got := rowIDs(doc.Find(byTestID("section-all"))); !slices.Equal(got, []string{f.byAction["flush-cache"].ID}) {
		t.Errorf("executed requests %v", got)
	}
	if sel, _ := doc.Find(byTestID("filter-state") + " option[selected]").Attr("value"); sel != "executed" {
		t.Errorf("selected state %q", sel)
	}
	if doc.Find(byTestID("filter-reset")).Length() != 1 {
		t.Error("no way to clear an active filter")
	}

	if r := f.get(t, userAuditor, "/requests?state=bogus"); r.code != http.StatusBadRequest {
		t.Errorf("unknown state: %d, want 400", r.code)
	}
}

func TestListWithoutRoleShowsOnlyOwnRequests(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	carolNoRole := *userCarol
	carolNoRole.Roles = nil
	doc := f.page(t, &carolNoRole, "/requests?requester=bob")
	got := rowIDs(doc.Find(byTestID("section-all")))
	if !sameIDs(got, []string{f.byAction["restart"].ID, f.byAction["flush-cache"].ID}) {
		t.Errorf("carol without a role sees %v, want only her own", got)
	}
	if doc.Find(byTestID("only-own")).Length() != 1 {
		t.Error("the page does not say the list is limited to her own requests")
	}
	if got := rowIDs(f.page(t, userEve, "/requests").Find(byTestID("section-all"))); len(got) != 0 {
		t.Errorf("eve sees %v", got)
	}
}

func TestRequestPagesNeedASignedInUser(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	for _, target := range []string{"/", "/requests", "/requests/" + f.byAction["restart"].ID} {
		if r := f.get(t, nil, target); r.code != http.StatusUnauthorized {
			t.Errorf("%s without a user: %d, want 401", target, r.code)
		}
	}
}

// createPending opens n requests with in(i), concurrently as several
// clients would, and returns their ids.
func createPending(t testing.TB, svc *approval.Service, n int, in func(i int) approval.NewRequest) []string {
	t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r, err := svc.Create(context.Background(), in(i))
			if err != nil {
				errs <- err
				return
			}
			ids[i] = r.ID
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("create: %v", err)
	}
	return ids
}

// sameIDs reports whether a and b hold the same ids, each exactly once.
func sameIDs(a, b []string) bool {
	if len(a) != len(b) || len(idSet(a)) != len(a) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

func idSet(s []string) map[string]bool {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	return m
}

// TestDashboardIsForTriage checks what an approver needs per row: the
// purpose as the link, soonest-expiring first, approvals with who is still
// needed, and the risk flags; and that purpose words narrow the list.
func TestDashboardIsForTriage(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	f.decide(t, f.byAction["rotate-secret"], userBob, models.VerdictApprove, "ok")
	sec := f.page(t, userAlice, "/").Find(byTestID("section-actionable"))

	// scale waits 30 min, restart 1 h, rotate-secret 2 h.
	want := []string{f.byAction["scale"].ID, f.byAction["restart"].ID, f.byAction["rotate-secret"].ID}
	if got := rowIDs(sec); !slices.Equal(got, want) {
		t.Errorf("rows %v, want soonest-expiring first %v", got, want)
	}
	row := func(action string) *goquery.Selection {
		return sec.Find(`[data-testid="request-row"][data-request-id="` + f.byAction[action].ID + `"]`)
	}
	rot := row("rotate-secret")
	if got := squish(rot.Find(byTestID("request-link"))); got != "Credential exposed in build log, SEC-311" {
		t.Errorf("row link text %q, want the purpose", got)
	}
	if got, _ := rot.Find(byTestID("request-link")).Attr("title"); got != f.byAction["rotate-secret"].ID {
		t.Errorf("row link hover %q, want the id", got)
	}
	if got := squish(rot.Find(byTestID("row-approvals"))); got != "1 of 2 approvals" {
		t.Errorf("row progress %q", got)
	}
	if got := squish(rot.Find(byTestID("row-missing"))); got != "needs 1 more from any approver" {
		t.Errorf("row missing %q", got)
	}
	flags := func(s *goquery.Selection) []string {
		var out []string
		s.Find(byTestID("risk")).Each(func(_ int, r *goquery.Selection) {
			k, _ := r.Attr("data-risk")
			out = append(out, k)
		})
		return out
	}
	if got := flags(row("scale")); !slices.Equal(got, []string{"impersonation", "production"}) {
		t.Errorf("scale row flags %v, want impersonation (dave's webhook as alice) and production", got)
	}
	if got := flags(rot); !slices.Equal(got, []string{"production", "agent"}) {
		t.Errorf("rotate-secret row flags %v", got)
	}
	// bob's own slash command in the scale thread is not an impersonation.
	if strings.Contains(squish(row("restart")), "impersonation") {
		t.Error("carol's own slash command is flagged as impersonation")
	}

	got := rowIDs(f.page(t, userAlice, "/?purpose=black+FRIDAY").Find(byTestID("section-actionable")))
	if !slices.Equal(got, []string{f.byAction["scale"].ID}) {
		t.Errorf("purpose search for \"black FRIDAY\": %v, want only scale", got)
	}
	if got := rowIDs(f.page(t, userAlice, "/?purpose=50%25_off").Find(byTestID("section-actionable"))); len(got) != 0 {
		t.Errorf("LIKE wildcards in the search matched %v", got)
	}
}
