package pages_test

import (
	"context"
	"strings"
	"testing"

	"github.com/countersign/countersign/templates/layout"
	"github.com/countersign/countersign/templates/pages"
)

func TestPortalNavLinksAuditLogForAuditorsOnly(t *testing.T) {
	v := pages.AuditSearchView{PageStart: true}
	auditor := layout.WithAccount(context.Background(), layout.Account{Name: "Audrey", Auditor: true})
	doc := render(t, auditor, pages.AuditSearch(v))
	if link := doc.Find(`[data-testid="nav-audit"]`); link.Length() != 1 || link.AttrOr("href", "") != "/audit" || link.AttrOr("aria-current", "") != "page" {
		t.Fatalf("auditor nav: %d links", link.Length())
	}
	other := layout.WithAccount(context.Background(), layout.Account{Name: "Paula"})
	if n := render(t, other, pages.Integrity(pages.IntegrityView{State: "none"})).Find(`[data-testid="nav-audit"]`).Length(); n != 0 {
		t.Fatalf("non-auditor sees %d audit links", n)
	}
}

func TestAuditSearchPageEscapesResults(t *testing.T) {
	v := pages.AuditSearchView{
		Form: pages.AuditSearchForm{Purpose: `"><script>alert(1)</script>`},
		Rows: []pages.AuditRow{{Seq: "7", Type: "request.created", Actor: "<b>mallory</b>", Purpose: `<img src=x onerror=alert(1)>`, RequestID: "REQ-1", RequestURL: "/requests/REQ-1"}},
	}
	doc := render(t, context.Background(), pages.AuditSearch(v))
	if doc.Find("script:not([src]), img, b").Length() != 0 {
		t.Fatal("result text was not escaped")
	}
	if got := doc.Find(`[data-testid="row-purpose"]`).Text(); !strings.Contains(got, "<img") {
		t.Fatalf("purpose shown as %q", got)
	}
	if doc.Find(`[data-testid="f-purpose"]`).AttrOr("value", "") != v.Form.Purpose {
		t.Fatal("purpose field value")
	}
}
