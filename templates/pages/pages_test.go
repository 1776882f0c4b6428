package pages_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"

	"github.com/countersign/countersign/templates/layout"
	"github.com/countersign/countersign/templates/pages"
	"github.com/countersign/countersign/templates/partials"
)

func render(t *testing.T, ctx context.Context, c templ.Component) *goquery.Document {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(ctx, &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	doc, err := goquery.NewDocumentFromReader(&buf)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc
}

func TestErrorPageShowsStatusMessageAndRequestID(t *testing.T) {
	doc := render(t, context.Background(), pages.Error(pages.ErrorView{
		Status:    404,
		Title:     "Not Found",
		Message:   "There is nothing here.",
		RequestID: "req-123",
	}))
	for id, want := range map[string]string{
		"error-status":  "404",
		"error-title":   "Not Found",
		"error-message": "There is nothing here.",
		"request-id":    "req-123",
	} {
		if got := strings.TrimSpace(doc.Find(`[data-testid="` + id + `"]`).Text()); got != want {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	if got := doc.Find("title").Text(); !strings.HasPrefix(got, "Not Found") {
		t.Errorf("title %q", got)
	}
}

func TestErrorPageEscapesItsText(t *testing.T) {
	doc := render(t, context.Background(), pages.Error(pages.ErrorView{
		Status: 400, Title: "Bad Request", Message: `<script>alert(1)</script>`, RequestID: "r",
	}))
	if doc.Find("script:not([src])").Length() != 0 {
		t.Error("message rendered as markup")
	}
}

func TestLayoutUsesChromeFromContext(t *testing.T) {
	ctx := layout.WithChrome(context.Background(), layout.Chrome{
		Version:     "v1.2.3",
		Stylesheets: []string{"/static/app.css?v=abc"},
	})
	doc := render(t, ctx, pages.Home(pages.HomeView{}))
	if got := doc.Find(`[data-testid="version"]`).Text(); got != "v1.2.3" {
		t.Errorf("footer version %q", got)
	}
	if href, _ := doc.Find("link[rel=stylesheet]").Attr("href"); href != "/static/app.css?v=abc" {
		t.Errorf("stylesheet %q", href)
	}
	if _, ok := doc.Find(`meta[name="viewport"]`).Attr("content"); !ok {
		t.Error("no viewport meta")
	}
	if lang, _ := doc.Find("html").Attr("lang"); lang != "en" {
		t.Errorf("html lang %q", lang)
	}
}

func TestLayoutWithoutChromeStillLinksStyles(t *testing.T) {
	doc := render(t, context.Background(), pages.Home(pages.HomeView{}))
	if n := doc.Find("link[rel=stylesheet]").Length(); n != len(layout.DefaultStylesheets()) {
		t.Errorf("%d stylesheets, want the defaults", n)
	}
	if doc.Find(`[data-testid="version"]`).Length() != 0 {
		t.Error("empty version rendered")
	}
	if n := doc.Find("script[src]").Length(); n != len(layout.DefaultScripts()) {
		t.Errorf("%d script files, want the defaults", n)
	}
	if doc.Find("style, [style], script:not([src])").Length() != 0 {
		t.Error("inline style or script in the layout")
	}
}

// TestDashboardExplainsAMissingRolesClaim: a person whose provider sent
// no roles claim is told why they have no role and what an administrator
// must release; everyone else sees no such notice.
func TestDashboardExplainsAMissingRolesClaim(t *testing.T) {
	doc := render(t, context.Background(), pages.Dashboard(pages.DashboardView{UserName: "Carol", MissingRolesClaim: "groups"}))
	notice := doc.Find(`[data-testid="missing-roles-claim"]`)
	if text := strings.Join(strings.Fields(notice.Text()), " "); !strings.Contains(text, "sent no groups claim") || !strings.Contains(text, "release the groups claim") {
		t.Errorf("notice = %q", text)
	}
	doc = render(t, context.Background(), pages.Dashboard(pages.DashboardView{UserName: "Alice"}))
	if doc.Find(`[data-testid="missing-roles-claim"]`).Length() != 0 {
		t.Error("notice shown to a person whose provider sent the claim")
	}
}

// TestUnknownBotOwnerSaysWhy: a bot post whose owner could not be read
// says so, with the reason and the permission that fixes it; a known
// owner is named.
func TestUnknownBotOwnerSaysWhy(t *testing.T) {
	doc := render(t, context.Background(), partials.ProvenanceBadges(partials.Post{Kind: "bot"}))
	if got := strings.Join(strings.Fields(doc.Find(`[data-testid="bot-owner-reason"]`).Text()), " "); !strings.Contains(got, "read_others_bots") {
		t.Errorf("reason = %q", got)
	}
	doc = render(t, context.Background(), partials.ProvenanceBadges(partials.Post{Kind: "bot", BotOwner: "dave"}))
	if doc.Find(`[data-testid="bot-owner-reason"]`).Length() != 0 || !strings.Contains(doc.Find(`[data-testid="bot-owner"]`).Text(), "dave") {
		t.Errorf("known owner: %s", doc.Text())
	}
}

// TestRequestPageShowsCaptureWarnings: what the capture could not learn
// is shown with the conversation.
func TestRequestPageShowsCaptureWarnings(t *testing.T) {
	doc := render(t, context.Background(), pages.Request(pages.RequestView{ID: "REQ-X", CaptureWarnings: []string{"owner of bot @deploy-bot unknown: grant read_others_bots"}}))
	if got := strings.TrimSpace(doc.Find(`[data-testid="capture-warning"]`).Text()); got != "owner of bot @deploy-bot unknown: grant read_others_bots" {
		t.Errorf("capture warning %q", got)
	}
	doc = render(t, context.Background(), pages.Request(pages.RequestView{ID: "REQ-Y"}))
	if doc.Find(`[data-testid="capture-warnings"]`).Length() != 0 {
		t.Error("a warnings list without warnings")
	}
}

// TestErrorPageKeepsNavigationAndLabelsTheReference: a signed-in person
// keeps the portal's navigation, reads the next step, and the reference is
// called an error reference, not a request id.
func TestErrorPageKeepsNavigationAndLabelsTheReference(t *testing.T) {
	ctx := layout.WithAccount(context.Background(), layout.Account{Name: "Paula"})
	doc := render(t, ctx, pages.Error(pages.ErrorView{Status: 404, Title: "Not Found", Message: "m", NextStep: "Sign in with the account they meant.", RequestID: "wedgcl42"}))
	if doc.Find(`[data-testid="portal-nav"]`).Length() != 1 {
		t.Error("no navigation on the error page")
	}
	if got := doc.Find(`[data-testid="error-next-step"]`).Text(); got != "Sign in with the account they meant." {
		t.Errorf("next step %q", got)
	}
	ref := strings.Join(strings.Fields(doc.Find(".error-reference").Text()), " ")
	if !strings.HasPrefix(ref, "Error reference wedgcl42") || strings.Contains(ref, "request id") {
		t.Errorf("reference reads %q", ref)
	}
	if render(t, context.Background(), pages.Error(pages.ErrorView{Status: 401, Title: "Unauthorized"})).Find(`[data-testid="portal-nav"]`).Length() != 0 {
		t.Error("navigation shown to a signed-out visitor")
	}
}

func TestDecisionRefusedKeepsNavigationAndLabelsTheReference(t *testing.T) {
	ctx := layout.WithAccount(context.Background(), layout.Account{Name: "Paula"})
	doc := render(t, ctx, pages.DecisionRefused(pages.DecisionRefusedView{Status: 403, Message: "m", RequestID: "REQ-0000000001", RequestURL: "/requests/REQ-0000000001", TraceID: "wedgcl42"}))
	if doc.Find(`[data-testid="portal-nav"]`).Length() != 1 {
		t.Error("no navigation on the refused-decision page")
	}
	ref := strings.Join(strings.Fields(doc.Find(".error-reference").Text()), " ")
	if !strings.HasPrefix(ref, "Error reference wedgcl42") || strings.Contains(ref, "request id") {
		t.Errorf("reference reads %q", ref)
	}
}
