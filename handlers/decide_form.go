package handlers

import (
	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/passkey"
)

// maxContentHashLen bounds the content_hash field (a hex SHA-256 is 64).
const maxContentHashLen = 128

// decisionForm is the approve/deny form. It is bound from the body only,
// never into a model.
type decisionForm struct {
	Verdict     string `form:"verdict"`
	Comment     string `form:"comment"`
	ContentHash string `form:"content_hash"`
	// The passkey assertion, when the decision is signed with a passkey
	// (filled by static/passkey.js).
	PasskeyNonce             string `form:"passkey_nonce"`
	PasskeyCredentialID      string `form:"passkey_credential_id"`
	PasskeyAuthenticatorData string `form:"passkey_authenticator_data"`
	PasskeyClientDataJSON    string `form:"passkey_client_data_json"`
	PasskeySignature         string `form:"passkey_signature"`
}

// passkeyProof is the form's passkey signature; nil when it carries none.
func (f *decisionForm) passkeyProof() *passkey.Proof {
	if f.PasskeyNonce == "" {
		return nil
	}
	return &passkey.Proof{Nonce: f.PasskeyNonce, Assertion: passkey.Assertion{
		CredentialID: f.PasskeyCredentialID, AuthenticatorData: f.PasskeyAuthenticatorData,
		ClientDataJSON: f.PasskeyClientDataJSON, Signature: f.PasskeySignature,
	}}
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
