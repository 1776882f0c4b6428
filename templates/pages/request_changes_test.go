package pages_test

import (
	"context"
	"strings"
	"testing"

	"github.com/countersign/countersign/templates/pages"
	"github.com/countersign/countersign/templates/partials"
)

// TestRequestPageShowsConversationChangesAsText renders edited, deleted
// and later posts holding HTML and script: they appear as text, with the
// old and new text and the deleted marker, and no element is injected.
func TestRequestPageShowsConversationChangesAsText(t *testing.T) {
	hostile := `<script>alert(1)</script><img src=x onerror=alert(2)> **bold**`
	doc := render(t, context.Background(), pages.Request(pages.RequestView{
		ID: "REQ-TEST", State: "pending", ContentVerified: true,
		Revisions: []partials.Revision{
			{PostID: "p1", OldMessage: "go ahead", NewMessage: hostile},
			{PostID: "p2", OldMessage: "fine by me", Deleted: true},
		},
		Later:    []partials.LaterPost{{PostID: "p3", Author: "dave", Kind: "human", Message: hostile}},
		ChatNote: "Mattermost could not be reached",
	}))
	revs := doc.Find(`[data-testid="revision"]`)
	if revs.Length() != 2 {
		t.Fatalf("%d revisions shown", revs.Length())
	}
	if got := revs.Eq(0).Find(`[data-testid="revision-old"]`).Text(); got != "go ahead" {
		t.Errorf("old text %q", got)
	}
	if got := revs.Eq(0).Find(`[data-testid="revision-new"]`).Text(); got != hostile {
		t.Errorf("new text %q, want the literal text", got)
	}
	if revs.Eq(1).Find(`[data-testid="revision-deleted"]`).Length() != 1 {
		t.Error("deleted marker missing")
	}
	if got := doc.Find(`[data-testid="later-message"]`).Text(); got != hostile {
		t.Errorf("later discussion %q", got)
	}
	if doc.Find("script:not([src])").Length() != 0 || doc.Find("img[onerror]").Length() != 0 {
		t.Fatal("HTML from chat was rendered as markup")
	}
	if !strings.Contains(doc.Find(`[data-testid="section-later"]`).Text(), "not part of what is approved") {
		t.Error("later discussion is not set apart from the approved content")
	}
	// The handler sets the chat note only next to a decision notice.
	if doc.Find(`[data-testid="chat-note"]`).Length() != 1 {
		t.Error("chat note missing")
	}
}
