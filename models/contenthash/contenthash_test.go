package contenthash

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
)

func TestCanonicalMatchesRFC8785(t *testing.T) {
	// The example of RFC 8785 section 3.2.2 (numbers, escapes, key order).
	in := `{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`
	want := `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`
	got, err := CanonicalizeJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("canonical form\n got %s\nwant %s", got, want)
	}
	if _, err := CanonicalizeJSON([]byte(`{"a":1} {"b":2}`)); err == nil {
		t.Fatal("two JSON values accepted")
	}
	if _, err := CanonicalizeJSON([]byte(`{"a":`)); err == nil {
		t.Fatal("truncated JSON accepted")
	}
}

func sample() (*models.Request, []models.ConversationPost, []models.ToolCall) {
	r := &models.Request{Kind: models.KindAction, Action: "restart", Params: `{"env":"prod","service":"payments-api"}`, Purpose: "OOM loop, INC-4211"}
	posts := []models.ConversationPost{
		{PostSnapshot: models.PostSnapshot{PostID: "p1", AuthorID: "u1", AuthorName: "carol", AuthorKind: models.AuthorHuman, ChannelMember: true, Message: "payments is OOMing", CreateAt: 1700000000000}},
		{PostSnapshot: models.PostSnapshot{PostID: "p2", RootID: "p1", AuthorID: "b1", AuthorName: "deploy-bot", AuthorKind: models.AuthorBot, BotOwnerID: "u9", ChannelMember: true, Message: "I propose a restart", CreateAt: 1700000001000}},
	}
	start := time.Date(2026, 11, 27, 9, 0, 0, 123456000, time.UTC)
	calls := []models.ToolCall{
		{CallID: "c1", Tool: "metrics.query", Input: `{"q":"oom_kills"}`, Output: `{"count":12}`, Status: models.ToolCallOK, StartedAt: start, EndedAt: start.Add(time.Second)},
		{CallID: "c2", ParentID: "c1", Tool: "k8s.describe", Input: `{"pod":"payments-1"}`, OutputDigest: "sha256:abcd", Status: models.ToolCallOK, StartedAt: start, EndedAt: start.Add(2 * time.Second)},
	}
	return r, posts, calls
}

func TestHashIsStable(t *testing.T) {
	r, posts, calls := sample()
	h1, err := Hash(OfRequest(r, posts, calls))
	if err != nil {
		t.Fatal(err)
	}
	// Same content, keys of the JSON parts written in another order and a
	// different time zone: same hash.
	r2, posts2, calls2 := sample()
	p, _ := CanonicalizeJSON([]byte(`{ "service":"payments-api", "env":"prod" }`))
	r2.Params = string(p)
	loc := time.FixedZone("X", 3*3600)
	calls2[0].StartedAt = calls2[0].StartedAt.In(loc)
	h2, err := Hash(OfRequest(r2, posts2, calls2))
	if err != nil {
		t.Fatal(err)
	}
	if h1 != h2 || len(h1) != 64 {
		t.Fatalf("same content hashed differently: %s vs %s", h1, h2)
	}
}

func TestHashIsSensitiveToEveryPart(t *testing.T) {
	r, posts, calls := sample()
	base, _ := Hash(OfRequest(r, posts, calls))
	mutations := map[string]func(r *models.Request, p []models.ConversationPost, c []models.ToolCall){
		"action": func(r *models.Request, _ []models.ConversationPost, _ []models.ToolCall) { r.Action = "stop" },
		"param value": func(r *models.Request, _ []models.ConversationPost, _ []models.ToolCall) {
			r.Params = `{"env":"staging","service":"payments-api"}`
		},
		"purpose": func(r *models.Request, _ []models.ConversationPost, _ []models.ToolCall) { r.Purpose += "!" },
		"kind":    func(r *models.Request, _ []models.ConversationPost, _ []models.ToolCall) { r.Kind = models.KindWindow },
		"post message": func(_ *models.Request, p []models.ConversationPost, _ []models.ToolCall) {
			p[0].Message = "payments is fine"
		},
		"post edited": func(_ *models.Request, p []models.ConversationPost, _ []models.ToolCall) { p[1].EditAt = 1700000009000 },
		"post author": func(_ *models.Request, p []models.ConversationPost, _ []models.ToolCall) { p[0].AuthorID = "u2" },
		"post kind": func(_ *models.Request, p []models.ConversationPost, _ []models.ToolCall) {
			p[0].AuthorKind = models.AuthorWebhook
		},
		"override name": func(_ *models.Request, p []models.ConversationPost, _ []models.ToolCall) {
			p[0].OverrideUsername = "alice"
		},
		"tool output": func(_ *models.Request, _ []models.ConversationPost, c []models.ToolCall) {
			c[0].Output = `{"count":13}`
		},
		"tool input": func(_ *models.Request, _ []models.ConversationPost, c []models.ToolCall) {
			c[1].Input = `{"pod":"payments-2"}`
		},
		"tool digest": func(_ *models.Request, _ []models.ConversationPost, c []models.ToolCall) {
			c[1].OutputDigest = "sha256:abce"
		},
		"tool status": func(_ *models.Request, _ []models.ConversationPost, c []models.ToolCall) {
			c[0].Status = models.ToolCallError
		},
		"tool parent": func(_ *models.Request, _ []models.ConversationPost, c []models.ToolCall) { c[1].ParentID = "" },
		"tool time": func(_ *models.Request, _ []models.ConversationPost, c []models.ToolCall) {
			c[0].EndedAt = c[0].EndedAt.Add(time.Microsecond)
		},
	}
	for name, mutate := range mutations {
		r, posts, calls := sample()
		mutate(r, posts, calls)
		h, err := Hash(OfRequest(r, posts, calls))
		if err != nil {
			t.Fatal(err)
		}
		if h == base {
			t.Errorf("%s: hash did not change", name)
		}
	}
	// Order matters: swapping two posts is different content.
	r, posts, calls = sample()
	posts[0], posts[1] = posts[1], posts[0]
	if h, _ := Hash(OfRequest(r, posts, calls)); h == base {
		t.Error("reordering posts did not change the hash")
	}
	// Dropping a post changes it too.
	r, posts, calls = sample()
	if h, _ := Hash(OfRequest(r, posts[:1], calls)); h == base {
		t.Error("dropping a post did not change the hash")
	}
}

func TestPostHashCoversProvenance(t *testing.T) {
	_, posts, _ := sample()
	h1, _ := PostHash(&posts[0])
	posts[0].FromWebhook = true
	h2, _ := PostHash(&posts[0])
	if h1 == h2 {
		t.Fatal("from_webhook not covered by the post hash")
	}
	var v map[string]any
	b, _ := Canonical(FromPost(&posts[0]))
	if err := json.Unmarshal(b, &v); err != nil || v["from_webhook"] != true {
		t.Fatalf("canonical post not decodable or wrong: %s %v", b, err)
	}
}
