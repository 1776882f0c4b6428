package models

import (
	"testing"
	"time"
)

func TestRequestRisks(t *testing.T) {
	created := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	ms := created.UnixMilli()
	post := func(kind AuthorKind, author, override string, edit, del int64) ConversationPost {
		return ConversationPost{PostSnapshot: PostSnapshot{AuthorKind: kind, AuthorName: author, OverrideUsername: override, EditAt: edit}, DeleteAt: del}
	}
	cases := []struct {
		name string
		r    Request
		want Risks
	}{
		{"plain human request", Request{RequesterType: ActorHuman, Params: `{"env":"staging"}`, Posts: []ConversationPost{post(AuthorHuman, "bob", "", 0, 0)}}, Risks{}},
		{"own slash command is no impersonation", Request{Params: `{}`, Posts: []ConversationPost{post(AuthorWebhook, "carol", "", 0, 0), post(AuthorWebhook, "carol", "@Carol", 0, 0)}}, Risks{}},
		{"webhook shown as someone else", Request{Params: `{}`, Posts: []ConversationPost{post(AuthorWebhook, "dave", "alice", 0, 0)}}, Risks{Impersonations: 1}},
		{"override on a human post is not a webhook", Request{Params: `{}`, Posts: []ConversationPost{post(AuthorHuman, "dave", "alice", 0, 0)}}, Risks{}},
		{"edited before capture only", Request{Params: `{}`, Posts: []ConversationPost{post(AuthorHuman, "bob", "", ms-1000, 0)}}, Risks{}},
		{"edited after and deleted", Request{Params: `{}`, Posts: []ConversationPost{post(AuthorHuman, "bob", "", ms+1000, 0), post(AuthorHuman, "bob", "", 0, ms+5)}}, Risks{Edited: 2}},
		{"prod env", Request{Params: `{"env":"prod","service":"api"}`}, Risks{Production: "env=prod"}},
		{"production environment", Request{Params: `{"environment":"Production"}`}, Risks{Production: "environment=Production"}},
		{"prod elsewhere is not the env", Request{Params: `{"service":"prod-api"}`}, Risks{}},
		{"agent", Request{RequesterType: ActorAgent, Params: `{}`}, Risks{Agent: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.r.CreatedAt = created
			got := c.r.Risks()
			if got != c.want {
				t.Errorf("Risks() = %+v, want %+v", got, c.want)
			}
			if got.Any() != (c.want != Risks{}) {
				t.Errorf("Any() = %v for %+v", got.Any(), got)
			}
		})
	}
}
