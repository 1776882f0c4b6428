package policy

import (
	"context"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
)

// AuditLoads returns a WatchOptions.OnEvent that records every load as
// "policy.loaded" and every refusal as "policy.rejected" in the audit log.
// A failed append is logged (the policy swap itself has already happened
// or not; it does not depend on the log).
func AuditLoads(store *models.Store, log *slog.Logger) func(LoadEvent) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(ev LoadEvent) {
		if err := RecordLoad(context.Background(), store, ev); err != nil {
			log.Error("policy: audit load event", "err", err)
		}
	}
}

// RecordLoad appends the audit event for ev in its own transaction.
func RecordLoad(ctx context.Context, store *models.Store, ev LoadEvent) error {
	at := ev.At
	if at.IsZero() {
		at = time.Now()
	}
	e := audit.Entry{Actor: models.SystemActor("policy reload"), PolicyRef: ev.InForce}
	if ev.Loaded() {
		e.Type = "policy.loaded"
		e.Payload = map[string]any{"path": ev.Path, "ref": ev.Ref, "previous": ev.Previous}
	} else {
		var problems []string
		if le, ok := AsLoadError(ev.Err); ok {
			for _, p := range le.Problems {
				problems = append(problems, p.String())
			}
		} else {
			problems = []string{ev.Err.Error()}
		}
		e.Type = "policy.rejected"
		e.Payload = map[string]any{"path": ev.Path, "problems": problems, "in_force": ev.InForce}
	}
	return store.WithTx(ctx, func(tx *gorm.DB) error {
		_, err := audit.Append(tx, at.UTC().Truncate(time.Microsecond), e)
		return err
	})
}
