package models

import "time"

// Decision is one approver's verdict on a request, bound to the content hash
// the approver was shown and to the step-up evidence of their login.
type Decision struct {
	ID           int64 `gorm:"primaryKey"`
	RequestID    string
	ApproverID   string
	ApproverName string
	// ApproverUsername is the decider's chat username (lower case) when the
	// portal knew it: reminders skip people who have decided.
	ApproverUsername string
	Verdict          Verdict
	Comment          string
	// ContentHash is the hash the approver saw; a decision whose hash differs
	// from the request's current one no longer counts.
	ContentHash string

	// Step-up evidence.
	AuthTime    time.Time
	ACR         string `gorm:"column:acr"`
	AMR         string `gorm:"column:amr"`
	IDTokenHash string `gorm:"column:id_token_hash"`
	// PasswordOnly marks a decision whose step-up rule asked for neither
	// an authentication class nor a method: the re-authentication may
	// have been a password alone.
	PasswordOnly bool

	// Passkey evidence, when the decision was signed with a passkey: the
	// credential, the decision statement whose hash was the challenge, and
	// the assertion (base64url), so anyone can check it later.
	PasskeyCredentialID      string
	PasskeyStatement         string
	PasskeyAuthenticatorData string
	PasskeyClientDataJSON    string `gorm:"column:passkey_client_data_json"`
	PasskeySignature         string

	CreatedAt time.Time
}

// TableName pins the table name.
func (Decision) TableName() string { return "decisions" }

// StrengthPasswordOnly is how a password-only decision's strength reads
// wherever it is shown: the request page, the audit event, the receipt.
const StrengthPasswordOnly = "password re-entry only"
