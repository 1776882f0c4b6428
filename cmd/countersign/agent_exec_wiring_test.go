package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/countersign/countersign/handlers"
	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/agents"
	"github.com/countersign/countersign/models/storetest"
)

// TestChatRoutesWireAgentGrantsAndResults checks that serve's wiring hands
// the agent API the grant and execution services: the redeem and result
// endpoints reach the domain (which refuses a garbage grant and an unknown
// request) instead of answering that they are off.
func TestChatRoutesWireAgentGrantsAndResults(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	cfg := DefaultConfig()
	cfg.PublicURL = "http://countersign.test"
	cfg.DataDir = t.TempDir()
	cfg.Mattermost.SiteURL = "http://127.0.0.1:9"
	cfg.Mattermost.Messages.BotToken = "bot-token-not-used-here"
	cfg.Agents = AgentList{{Name: "deploy-bot", BotUserID: strings.Repeat("a", 26), Sponsor: "dave"}}
	store := storetest.SQLite(t).Open(t)
	g, fx, err := newGrants(ctx, store, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := approvalService(store, cfg, nil, nil, fx, nil)
	reg, err := cfg.registry()
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := agents.NewKeys(store, reg, nil).Create(ctx, "deploy-bot", 0, models.Actor{Type: models.ActorHuman, ID: "ops", Display: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	call := func(gp *grantParts, path, body string) (int, map[string]any) {
		t.Helper()
		bot, err := botClient(cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		routes, err := chatRoutes(ctx, cfg, store, svc, bot, nil, gp, nil)
		if err != nil {
			t.Fatal(err)
		}
		e, err := handlers.New(handlers.Options{Logger: log, DB: store, Registry: prometheus.NewRegistry(), PublicURL: cfg.PublicURL, Chat: routes})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}
	gp := newGrantParts(store, svc, g, cfg, log)
	if code, out := call(gp, "/api/v1/requests/REQ-0000000001/grant/redeem", `{"grant":"x","params":{}}`); code != http.StatusForbidden || out["reason"] != "malformed" {
		t.Fatalf("redeem: %d %v", code, out)
	}
	result := `{"status":"ok","started_at":"2026-11-27T10:00:00Z","ended_at":"2026-11-27T10:00:01Z"}`
	if code, out := call(gp, "/api/v1/requests/REQ-0000000001/result", result); code != http.StatusNotFound || out["error"] != "no such request" {
		t.Fatalf("result: %d %v", code, out)
	}
	// Without grants the endpoints say so.
	if code, out := call(nil, "/api/v1/requests/REQ-0000000001/result", result); code != http.StatusNotFound || !strings.Contains(out["error"].(string), "not enabled") {
		t.Fatalf("result without grants: %d %v", code, out)
	}
}
