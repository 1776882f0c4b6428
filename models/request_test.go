package models_test

import (
	"testing"

	"github.com/countersign/countersign/models"
)

func TestRequestedBy(t *testing.T) {
	agentReq := &models.Request{RequesterType: models.ActorAgent, RequesterID: "bot-1"}
	humanReq := &models.Request{RequesterType: models.ActorHuman, RequesterID: "u-1"}
	for _, tc := range []struct {
		r    *models.Request
		a    models.Actor
		want bool
	}{
		{agentReq, models.Actor{Type: models.ActorAgent, ID: "bot-1"}, true},
		{agentReq, models.Actor{Type: models.ActorAgent, ID: "bot-2"}, false},
		{agentReq, models.Actor{Type: models.ActorHuman, ID: "bot-1"}, false},
		{humanReq, models.Actor{Type: models.ActorAgent, ID: "u-1"}, false},
		{humanReq, models.Actor{Type: models.ActorHuman, ID: "u-1"}, true},
		{&models.Request{RequesterType: models.ActorHuman}, models.Actor{Type: models.ActorHuman}, false},
	} {
		if got := tc.r.RequestedBy(tc.a); got != tc.want {
			t.Errorf("%s %q requested by %s %q: %v, want %v", tc.r.RequesterType, tc.r.RequesterID, tc.a.Type, tc.a.ID, got, tc.want)
		}
	}
}
