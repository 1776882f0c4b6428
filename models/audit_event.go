package models

// AuditEvent is one link of the tamper-evident audit chain. Hash is
// SHA-256 over the event's fields and PrevHash (see package audit); AtUnixUS
// is the event time in microseconds since the epoch, UTC.
type AuditEvent struct {
	Seq          int64 `gorm:"primaryKey;autoIncrement:false"`
	AtUnixUS     int64 `gorm:"column:at_unix_us"`
	Type         string
	ActorType    ActorType
	ActorID      string
	ActorDisplay string
	RequestID    string
	Purpose      string
	Action       string
	PolicyRef    string
	// Payload is canonical JSON object text.
	Payload  string
	PrevHash string
	Hash     string
}

// TableName pins the table name.
func (AuditEvent) TableName() string { return "audit_events" }
