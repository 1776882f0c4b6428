package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/demodata"
	"github.com/countersign/countersign/models/window"
)

// demoPolicy is the demo's sample policy: it shows every outcome kind
// (deny, auto_approve, require, and a rule that applies only inside an
// open change window).
//
//go:embed demopolicy/policy.yaml
var demoPolicy []byte

// writeDemoPolicy puts the sample policy in the data directory unless a
// (possibly edited) one is already there, and returns its path: the demo
// watches it, so editing it shows hot reload.
func writeDemoPolicy(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "policy.yaml")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("demo: policy file: %w", err)
	}
	if err := os.WriteFile(path, demoPolicy, 0o600); err != nil {
		return "", fmt.Errorf("demo: policy file: %w", err)
	}
	return path, nil
}

// seedPolicyRequests submits a few requests under the sample policy so the
// portal shows what each outcome looks like: one denied, one approved
// automatically, and a window request waiting for a lead.
func seedPolicyRequests(ctx context.Context, svc *approval.Service) (int, error) {
	src := models.Source{TeamName: "ops", ChannelName: "releases"}
	subs := []struct {
		in    approval.NewRequest
		roles []string
	}{
		{approval.NewRequest{Kind: models.KindAction, Action: "db.migrate", Params: map[string]any{"database": "orders", "env": "prod"},
			Purpose: "schema v42", Requester: demodata.DeployBot, Source: src}, []string{"dev"}},
		// Decided only with a passkey (rule prod-db-passkey).
		{approval.NewRequest{Kind: models.KindAction, Action: "db.migrate", Params: map[string]any{"database": "orders", "env": "prod"},
			Purpose: "add index orders_created_at (INC-4300)", Requester: demodata.Carol, Source: src}, []string{"dev"}},
		{approval.NewRequest{Kind: models.KindAction, Action: "restart", Params: map[string]any{"service": "search-api", "env": "staging"},
			Purpose: "flaky pod after deploy", Requester: demodata.Carol, Source: src}, []string{"dev"}},
		{window.OpenRequest("prod", "2h", "release 4.2", demodata.Alice, src), []string{"sre"}},
	}
	n := 0
	for _, s := range subs {
		if _, err := svc.Submit(ctx, s.in, s.roles); err != nil {
			return n, fmt.Errorf("demo: submit %s: %w", s.in.Action, err)
		}
		n++
	}
	return n, nil
}
