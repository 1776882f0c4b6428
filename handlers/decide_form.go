package handlers

import (
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
	comment, err := approval.ValidateVerdict(models.Verdict(f.Verdict), f.Comment)
	if err != nil {
		return err
	}
	f.Comment = comment
	if f.ContentHash == "" || len(f.ContentHash) > maxContentHashLen {
		return models.Invalid("content_hash", "is missing; reload the request page")
	}
	return nil
}
