package audit

import (
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/contenthash"
)

// Entry is what a caller records; Append fills in sequence, time and hashes.
type Entry struct {
	Type      string
	Actor     models.Actor
	RequestID string
	Purpose   string
	Action    string
	PolicyRef string
	// Payload is any JSON-encodable value (nil for none); it is stored as
	// canonical JSON.
	Payload any
}

// Append writes e as the next event of the chain using tx, which must be the
// transaction that carries the change e records. It locks the chain head
// (SELECT … FOR UPDATE on PostgreSQL; SQLite's write transaction already
// excludes other writers), so concurrent writers — in one process or many
// sharing a database — always produce one linear chain. Any failure is
// returned wrapped in models.ErrAudit; the caller must roll back.
func Append(tx *gorm.DB, at time.Time, e Entry) (*models.AuditEvent, error) {
	ev, err := appendEvent(tx, at, e)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", models.ErrAudit, err)
	}
	return ev, nil
}

func appendEvent(tx *gorm.DB, at time.Time, e Entry) (*models.AuditEvent, error) {
	if e.Type == "" {
		return nil, errors.New("audit: event type is empty")
	}
	if !e.Actor.Type.Valid() || e.Actor.ID == "" {
		return nil, errors.New("audit: event needs an actor")
	}
	payload := []byte("{}")
	if e.Payload != nil {
		var err error
		if payload, err = contenthash.Canonical(e.Payload); err != nil {
			return nil, fmt.Errorf("audit: payload: %w", err)
		}
	}
	// The head is read (and on PostgreSQL locked) once per transaction —
	// by the committer, before anything else (models/chainhead.go) — and
	// later appends in the same group commit take it from the
	// transaction-local cache, which rolls back with a failed job.
	head, err := models.TxChainHead(tx)
	if err != nil {
		return nil, err
	}
	ev := &models.AuditEvent{
		Seq:          head.Seq + 1,
		AtUnixUS:     at.UTC().UnixMicro(),
		Type:         e.Type,
		ActorType:    e.Actor.Type,
		ActorID:      e.Actor.ID,
		ActorDisplay: e.Actor.Display,
		RequestID:    e.RequestID,
		Purpose:      e.Purpose,
		Action:       e.Action,
		PolicyRef:    e.PolicyRef,
		Payload:      string(payload),
		PrevHash:     head.Hash,
	}
	ev.Hash = string(NewHasher().Sum(FieldsOf(ev)))
	// Written at once, or with the batch's other events before the
	// transaction's next statement or at its commit
	// (models.WriteAuditEvent).
	if err := models.WriteAuditEvent(tx, ev); err != nil {
		return nil, err
	}
	return ev, nil
}

// FieldsOf returns the hashed fields of a stored event.
func FieldsOf(ev *models.AuditEvent) *Fields {
	return &Fields{
		Seq: ev.Seq, AtUnixUS: ev.AtUnixUS, Type: []byte(ev.Type), ActorType: []byte(ev.ActorType),
		ActorID: []byte(ev.ActorID), ActorDisplay: []byte(ev.ActorDisplay), RequestID: []byte(ev.RequestID),
		Purpose: []byte(ev.Purpose), Action: []byte(ev.Action), PolicyRef: []byte(ev.PolicyRef),
		Payload: []byte(ev.Payload), PrevHash: []byte(ev.PrevHash),
	}
}
