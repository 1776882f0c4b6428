package models

import (
	"regexp"
	"time"
)

// ToolCallStatus is the outcome of one tool invocation.
type ToolCallStatus string

// The tool call statuses.
const (
	ToolCallOK      ToolCallStatus = "ok"
	ToolCallError   ToolCallStatus = "error"
	ToolCallPending ToolCallStatus = "pending"
)

// Valid reports whether s is a known status.
func (s ToolCallStatus) Valid() bool {
	return s == ToolCallOK || s == ToolCallError || s == ToolCallPending
}

// ToolCallObserved is the ObservedBy of a call Countersign's MCP gateway
// saw itself (as opposed to one the agent reported).
const ToolCallObserved = "countersign"

// outputDigestForm is the accepted form of an output digest: an
// algorithm name, a colon and 32–128 hex digits ("sha256:…").
var outputDigestForm = regexp.MustCompile(`^[a-z0-9-]{1,16}:[0-9a-fA-F]{32,128}$`)

// ValidOutputDigest reports whether s has the form of an output digest
// ("sha256:<hex>"), as agents send for a tool call's output or an
// execution's result instead of the output itself.
func ValidOutputDigest(s string) bool { return outputDigestForm.MatchString(s) }

// ToolCall is one step of an agent's tool-invocation chain, in order.
// Input and Output are canonical JSON text; when the agent sent only a digest
// of a large output, Output is empty and OutputDigest carries it.
type ToolCall struct {
	ID        int64 `gorm:"primaryKey"`
	RequestID string
	Position  int

	CallID       string
	ParentID     string
	Tool         string
	Input        string
	Output       string
	OutputDigest string
	Status       ToolCallStatus
	StartedAt    time.Time
	EndedAt      time.Time
	// ObservedBy is ToolCallObserved when the gateway observed the call,
	// empty when the agent reported it. It is part of the content hash.
	ObservedBy string
}

// TableName pins the table name.
func (ToolCall) TableName() string { return "tool_calls" }
