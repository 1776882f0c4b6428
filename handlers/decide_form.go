package handlers

import (
	"fmt"
	"strings"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
)

// maxContentHashLen bounds the content_hash field (a hex SHA-256 is 64).
const maxContentHashLen = 128

// decisionForm is the approve/deny form. It is bound from the body only,
// never into a model.
type decisionForm struct {
	Verdict     string `form:"verdict"`
	Comment     string `form:"comment"`
	ContentHash string `form:"content_hash"`
}

// validate checks the form's shape before anyone is sent to the IdP, so a
// person is not asked to re-authenticate only to learn the form was
// incomplete. approval.Service.Decide validates again (and decides).
func (f *decisionForm) validate() error {
	f.Comment = strings.TrimSpace(f.Comment)
	if !models.Verdict(f.Verdict).Valid() {
		return models.Invalid("verdict", "choose approve or deny")
	}
	if len(f.Comment) > approval.MaxCommentLen {
		return models.Invalid("comment", fmt.Sprintf("must be at most %d bytes", approval.MaxCommentLen))
	}
	if models.Verdict(f.Verdict) == models.VerdictDeny && f.Comment == "" {
		return models.Invalid("comment", "a reason is required to deny")
	}
	if f.ContentHash == "" || len(f.ContentHash) > maxContentHashLen {
		return models.Invalid("content_hash", "is missing; reload the request page")
	}
	return nil
}
