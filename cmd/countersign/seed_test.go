package main

import (
	"context"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/demodata"
)

func seedDemo(t *testing.T, s *models.Store) {
	t.Helper()
	if _, err := demodata.Seed(context.Background(), s, approval.New(s, approval.Config{}), time.Now()); err != nil {
		t.Fatal(err)
	}
}
