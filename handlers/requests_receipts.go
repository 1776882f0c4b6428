package handlers

import (
	"context"
	"fmt"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/templates/partials"
)

// linkReceipts gives each decision in views (in r.Decisions order) the link
// to the receipt of the audit event that recorded it.
func (h *Requests) linkReceipts(ctx context.Context, r *models.Request, views []partials.Decision) error {
	if h.receipts == nil || len(r.Decisions) == 0 {
		return nil
	}
	evs, err := h.receipts.DecisionEvents(ctx, r.ID)
	if err != nil {
		return fmt.Errorf("receipt links of %s: %w", r.ID, err)
	}
	used := make([]bool, len(evs))
	for i := range r.Decisions {
		if i >= len(views) {
			break
		}
		d := &r.Decisions[i]
		// A decision is unique per approver and content hash; its event
		// records both, and the verdict.
		for j, ev := range evs {
			if used[j] || ev.ApproverID != d.ApproverID || ev.Verdict != d.Verdict || (ev.ContentHash != "" && ev.ContentHash != d.ContentHash) {
				continue
			}
			used[j] = true
			views[i].ReceiptURL, views[i].ReceiptPending = receiptPath(ev.Seq), !ev.Covered
			views[i].ReceiptPageURL = receiptPagePath(ev.Seq)
			break
		}
	}
	return nil
}
