package handlers

import (
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

func TestHomeSaysWhatCountersignIs(t *testing.T) {
	rec := serve(t, NewHome("").Show, "/")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q", ct)
	}
	doc, err := goquery.NewDocumentFromReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	intro := doc.Find(`[data-testid="home-intro"]`)
	if !strings.Contains(intro.Text(), "Mattermost") || !strings.Contains(intro.Text(), "never authorizes") {
		t.Errorf("intro does not explain the product: %q", intro.Text())
	}
	if doc.Find(`[data-testid="signin-pending"]`).Length() != 1 {
		t.Error("without a sign-in URL the page must say sign-in comes with the portal")
	}
	if doc.Find(`[data-testid="signin-link"]`).Length() != 0 {
		t.Error("a sign-in link is shown although there is no sign-in yet")
	}
}

func TestHomeLinksSignInWhenAvailable(t *testing.T) {
	rec := serve(t, NewHome("/auth/login").Show, "/")
	doc, err := goquery.NewDocumentFromReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	link := doc.Find(`[data-testid="signin-link"]`)
	if href, _ := link.Attr("href"); href != "/auth/login" {
		t.Errorf("sign-in link href %q, want /auth/login", href)
	}
	if doc.Find(`[data-testid="signin-pending"]`).Length() != 0 {
		t.Error("'comes with the portal' still shown next to a working sign-in link")
	}
}
