package handlers

import (
	"errors"
	"strings"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
)

func TestDecisionFormValidation(t *testing.T) {
	hash := strings.Repeat("a", 64)
	cases := []struct {
		name  string
		form  decisionForm
		field string // "" means valid
	}{
		{"approve", decisionForm{Verdict: "approve", ContentHash: hash}, ""},
		{"approve with comment", decisionForm{Verdict: "approve", Comment: " ok ", ContentHash: hash}, ""},
		{"deny with reason", decisionForm{Verdict: "deny", Comment: "too risky", ContentHash: hash}, ""},
		{"deny without reason", decisionForm{Verdict: "deny", Comment: "   ", ContentHash: hash}, "comment"},
		{"unknown verdict", decisionForm{Verdict: "maybe", ContentHash: hash}, "verdict"},
		{"no verdict", decisionForm{ContentHash: hash}, "verdict"},
		{"no content hash", decisionForm{Verdict: "approve"}, "content_hash"},
		{"overlong content hash", decisionForm{Verdict: "approve", ContentHash: strings.Repeat("a", maxContentHashLen+1)}, "content_hash"},
		{"overlong comment", decisionForm{Verdict: "approve", ContentHash: hash, Comment: strings.Repeat("x", approval.MaxCommentLen+1)}, "comment"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.form
			err := f.validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("valid form refused: %v", err)
				}
				return
			}
			var ve *models.ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("err = %v, want a ValidationError on %s", err, tc.field)
			}
		})
	}
}
