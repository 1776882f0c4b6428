package proof

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
)

// DecisionEvent locates the audit event that recorded one decision, so the
// request page can offer its receipt.
type DecisionEvent struct {
	Seq         int64
	ApproverID  string
	Verdict     models.Verdict
	ContentHash string
	// Covered is true when a signed checkpoint already includes the event;
	// otherwise a receipt needs a new checkpoint first.
	Covered bool
}

// DecisionEvents returns the decision events of request id in order.
func (c *Checkpointer) DecisionEvents(ctx context.Context, id string) ([]DecisionEvent, error) {
	var rows []models.AuditEvent
	err := c.store.DB(ctx).Select("seq", "type", "actor_id", "payload").
		Where("request_id = ? AND type IN ?", id, []string{"decision." + string(models.VerdictApprove), "decision." + string(models.VerdictDeny)}).
		Order("seq").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("audit: decision events of %s: %w", id, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	var size int64
	row, err := c.latestRow(ctx)
	if err != nil {
		return nil, err
	}
	if row != nil {
		size = row.Size
	}
	out := make([]DecisionEvent, 0, len(rows))
	for _, r := range rows {
		var p struct {
			ContentHash string `json:"content_hash"`
		}
		_ = json.Unmarshal([]byte(r.Payload), &p) // a payload without it links by approver and verdict only
		out = append(out, DecisionEvent{Seq: r.Seq, ApproverID: r.ActorID, Verdict: models.Verdict(strings.TrimPrefix(r.Type, "decision.")),
			ContentHash: p.ContentHash, Covered: r.Seq <= size})
	}
	return out, nil
}

// EventRequest returns the request id event seq belongs to ("" for events
// without one), so a receipt is served only to people who may see that
// request. The error matches models.ErrNotFound for an unknown event.
func (c *Checkpointer) EventRequest(ctx context.Context, seq int64) (string, error) {
	var ev models.AuditEvent
	err := c.store.DB(ctx).Select("seq", "request_id").Where("seq = ?", seq).First(&ev).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", fmt.Errorf("audit: event %d: %w", seq, models.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("audit: read event %d: %w", seq, err)
	}
	return ev.RequestID, nil
}
