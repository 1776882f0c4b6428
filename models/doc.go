// Package models holds Countersign's entities, their typed states and the
// sentinel errors every layer maps to, plus the Store that persists them.
//
// Rules that act on these entities live in sub-packages, one per concept:
// lifecycle (the state machine), contenthash (what an approver approves),
// audit (the tamper-evident chain) and approval (the service that changes
// requests and records each change in the audit chain in one transaction).
package models
