package handlers

import (
	"fmt"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/models/audit/search"
	"github.com/countersign/countersign/web/session"
)

// AuditLogOptions configures the audit pages.
type AuditLogOptions struct {
	// Prover serves receipts and bundles; nil turns both off (404).
	Prover *proof.Checkpointer
	// Requests decides who may download the receipt of a request's event.
	Requests *approval.Service
	// MattermostURL is the Mattermost site URL for thread links; empty
	// hides them.
	MattermostURL string
	// Now is the clock for relative times; nil means time.Now.
	Now func() time.Time
}

// AuditLog serves the audit search, its exports, ranged bundles and
// decision receipts. Register:
//
//	GET /audit                    → Search       (auditor, admin)
//	GET /audit/export.csv         → ExportCSV    (auditor, admin)
//	GET /audit/export.jsonl       → ExportJSONL  (auditor, admin)
//	GET /audit/bundle             → Bundle       (auditor, admin)
//	GET /audit/receipt/:seq       → Receipt      (anyone who may see the event's request; JSON)
//	GET /audit/receipt/:seq/view  → ReceiptPage  (the same people; the receipt explained)
type AuditLog struct {
	search   *search.Searcher
	prover   *proof.Checkpointer
	requests *approval.Service
	mmURL    string
	now      func() time.Time
}

// NewAuditLog returns the audit pages' handler.
func NewAuditLog(search *search.Searcher, opts AuditLogOptions) *AuditLog {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &AuditLog{search: search, prover: opts.Prover, requests: opts.Requests,
		mmURL: strings.TrimRight(strings.TrimSpace(opts.MattermostURL), "/"), now: now}
}

// auditor returns the signed-in user if they may use the audit search;
// others are refused with 403 (the page's existence is no secret).
func auditor(c echo.Context) (*session.User, error) {
	u, err := signedIn(c)
	if err != nil {
		return nil, err
	}
	if !search.MaySearch(u.Roles) {
		return nil, fmt.Errorf("audit log: %s lacks the auditor or admin role: %w", u.Subject, models.ErrForbidden)
	}
	return u, nil
}
