// Package searchtest writes a small, known audit history for tests of the
// audit search, its pages and its exports: four requests by a person and
// an agent in two channels, decisions on them, and an event without a
// request. Every event's number, time and text is fixed, so tests can say
// exactly which events a search must return.
package searchtest

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
)

// T0 is the time of event 1; event n happens n-1 hours later.
var T0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// The fixture's actors.
var (
	Alice     = models.Actor{Type: models.ActorHuman, ID: "u-alice", Display: "alice"}
	Carol     = models.Actor{Type: models.ActorHuman, ID: "u-carol", Display: "carol"}
	DeployBot = models.Actor{Type: models.ActorAgent, ID: "bot-deploy", Display: "deploy-bot", SponsorID: "u-bob", SponsorName: "bob"}
	Dave      = models.Actor{Type: models.ActorHuman, ID: "sub-dave", Display: "Dave Approver"}
	Erin      = models.Actor{Type: models.ActorHuman, ID: "sub-erin", Display: "Erin Ünal"}
)

// Request is one fixture request.
type Request struct {
	ID, Action, Purpose, Channel, ChannelID, RootPost string
	By                                                models.Actor
	State                                             models.State
}

// Requests are the fixture's requests.
var Requests = []Request{
	{ID: "REQ-R1", Action: "restart", Purpose: "INC-4211 restart api after deploy", Channel: "ops", ChannelID: "ch-ops", RootPost: "post-r1", By: Alice, State: models.StateApproved},
	{ID: "REQ-R2", Action: "rotate-secret", Purpose: `Rotate the database secret for INC-4211 "urgent" 100% _done_`, Channel: "security", ChannelID: "ch-sec", RootPost: "post-r2", By: DeployBot, State: models.StateDenied},
	{ID: "REQ-R3", Action: "restart", Purpose: "Café naïve ünïcödé check", Channel: "ops", ChannelID: "ch-ops", By: Carol, State: models.StatePending},
	{ID: "REQ-R4", Action: "scale", Purpose: "scale workers; DROP TABLE audit_events; -- NEAR(x y) OR *", Channel: "ops", ChannelID: "ch-ops", RootPost: "post-r4", By: DeployBot, State: models.StatePending},
}

// Event is one fixture event (Seq is its position, from 1).
type Event struct {
	Type    string
	Actor   models.Actor
	Request int // index into Requests, -1 for none
}

// Events are the fixture's events in order.
var Events = []Event{
	{"request.created", Alice, 0},                                // 1
	{"request.created", DeployBot, 1},                            // 2
	{"decision.approve", Dave, 0},                                // 3
	{"request.approved", Dave, 0},                                // 4
	{"decision.deny", Dave, 1},                                   // 5
	{"request.denied", Dave, 1},                                  // 6
	{"request.created", Carol, 2},                                // 7
	{"request.created", DeployBot, 3},                            // 8
	{"decision.approve", Erin, 3},                                // 9
	{"maintenance.note", models.SystemActor("key rotation"), -1}, // 10
}

// At returns the time of event seq.
func At(seq int64) time.Time { return T0.Add(time.Duration(seq-1) * time.Hour) }

// Seed writes the fixture's requests and events into an empty store.
func Seed(t testing.TB, s *models.Store) {
	t.Helper()
	err := s.WithTx(context.Background(), func(tx *gorm.DB) error {
		for _, r := range Requests {
			row := &models.Request{
				ID: r.ID, Kind: models.KindAction, Action: r.Action, Params: "{}", Purpose: r.Purpose,
				RequesterType: r.By.Type, RequesterID: r.By.ID, RequesterName: r.By.Display, SponsorID: r.By.SponsorID, SponsorName: r.By.SponsorName,
				TeamID: "team-1", TeamName: "acme", ChannelID: r.ChannelID, ChannelName: r.Channel, RootPostID: r.RootPost, TriggerPostID: "trig-" + r.ID,
				ContentHash: "sha256:fixture", State: r.State, Version: 1, RequiredApprovals: 1,
				CreatedAt: T0, UpdatedAt: T0, ExpiresAt: T0.Add(48 * time.Hour),
			}
			if err := tx.Create(row).Error; err != nil {
				return err
			}
		}
		for i, e := range Events {
			entry := audit.Entry{Type: e.Type, Actor: e.Actor, Payload: map[string]any{"n": i + 1, "note": `=SUM(A1) "quoted", comma`}}
			if e.Request >= 0 {
				r := Requests[e.Request]
				entry.RequestID, entry.Purpose, entry.Action, entry.PolicyRef = r.ID, r.Purpose, r.Action, "prod"
			}
			if _, err := audit.Append(tx, At(int64(i+1)), entry); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed audit fixture: %v", err)
	}
}
