package demodata_test

import (
	"context"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/demodata"
	"github.com/countersign/countersign/models/storetest"
)

func TestSeedIsCompleteAndRunsOnce(t *testing.T) {
	s := storetest.SQLite(t).Open(t)
	svc := approval.New(s, approval.Config{})
	ctx := context.Background()
	n, err := demodata.Seed(ctx, s, svc, time.Now())
	if err != nil || n != 4 {
		t.Fatalf("seed: %d, %v", n, err)
	}
	again, err := demodata.Seed(ctx, s, svc, time.Now())
	if err != nil || again != 0 {
		t.Fatalf("second seed: %d, %v", again, err)
	}
	var reqs []models.Request
	if err := s.DB(ctx).Preload("Posts").Preload("ToolCalls").Order("created_at").Find(&reqs).Error; err != nil {
		t.Fatal(err)
	}
	var agent, webhookImpersonation, slash, executed bool
	for _, r := range reqs {
		if r.RequesterType == models.ActorAgent && len(r.ToolCalls) > 0 && r.RootPostID != "" && r.SponsorID != "" {
			agent = true
		}
		for _, p := range r.Posts {
			if p.AuthorKind == models.AuthorWebhook && p.OverrideUsername != "" && p.OverrideUsername != p.AuthorName {
				webhookImpersonation = true
			}
		}
		if r.RequesterType == models.ActorHuman && r.RootPostID == "" && r.TriggerPostID != "" {
			slash = true
		}
		if r.State == models.StateExecuted {
			executed = true
		}
	}
	if !agent || !webhookImpersonation || !slash || !executed {
		t.Fatalf("seed lacks a case: agent=%v webhook=%v slash=%v executed=%v", agent, webhookImpersonation, slash, executed)
	}
	db, _ := s.SQL()
	rep, err := audit.Verify(ctx, db)
	if err != nil || rep.Problem != nil || rep.Events != 6 {
		t.Fatalf("audit after seed: %+v, %v", rep, err)
	}
}
