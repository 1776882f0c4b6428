package pages_test

import (
	"context"
	"strings"
	"testing"

	"github.com/countersign/countersign/templates/pages"
	"github.com/countersign/countersign/templates/partials"
)

func TestReceiptPageSaysAPasskeySignedTheDecision(t *testing.T) {
	v := pages.ReceiptView{Seq: "41", Type: "decision.approve", Verdict: "approve", PasskeyEnrollment: "12"}
	doc := render(t, context.Background(), pages.ReceiptPage(v))
	if s := doc.Find(`[data-testid="receipt-passkey"]`).Text(); !strings.Contains(s, "#12") || !strings.Contains(s, "signed with a passkey") {
		t.Fatalf("passkey note %q", s)
	}
	v.PasskeyEnrollment = ""
	if doc := render(t, context.Background(), pages.ReceiptPage(v)); doc.Find(`[data-testid="receipt-passkey"]`).Length() != 0 {
		t.Fatal("a decision without a passkey is said to have one")
	}
}

func TestDecisionFormsOfferAndRequirePasskeys(t *testing.T) {
	form := partials.DecisionForm{Path: "/requests/R/decision", CSRFField: "csrf", CSRFToken: "t", ContentHash: "h", CommentMax: 10,
		Passkey: partials.PasskeyOffer{Offered: true, ChallengePath: "/requests/R/passkey/challenge"}}
	doc := render(t, context.Background(), partials.DecisionForms(form))
	for _, id := range []string{"approve-button", "deny-button", "approve-passkey-button", "deny-passkey-button"} {
		if doc.Find(`[data-testid="`+id+`"]`).Length() != 1 {
			t.Errorf("offered: no %s", id)
		}
	}
	if p, _ := doc.Find(`[data-testid="approve-passkey-button"]`).Attr("data-passkey-sign"); p != "/requests/R/passkey/challenge" {
		t.Errorf("challenge path %q", p)
	}
	if doc.Find(`form[data-testid="approve-form"] input[name="passkey_signature"]`).Length() != 1 {
		t.Error("no hidden assertion fields in the approve form")
	}
	form.Passkey.Required = true
	doc = render(t, context.Background(), partials.DecisionForms(form))
	if doc.Find(`[data-testid="approve-button"]`).Length()+doc.Find(`[data-testid="deny-button"]`).Length() != 0 || doc.Find(`[data-testid="passkey-required"]`).Length() != 1 {
		t.Error("required: plain buttons shown or no notice")
	}
	form.Passkey = partials.PasskeyOffer{}
	doc = render(t, context.Background(), partials.DecisionForms(form))
	if doc.Find(`[data-passkey-sign]`).Length() != 0 || doc.Find(`input[name="passkey_nonce"]`).Length() != 0 {
		t.Error("a person without a passkey is offered one")
	}
}
