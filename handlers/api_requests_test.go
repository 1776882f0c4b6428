package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/mattermost/mmfake"
)

// agentKey makes an API key for the registered agent "testbot".
func (e *chatEnv) agentKey() string {
	e.t.Helper()
	k, _, err := e.keys.Create(context.Background(), "testbot", 0, models.Actor{Type: models.ActorHuman, ID: "ops", Display: "ops"})
	if err != nil {
		e.t.Fatal(err)
	}
	return k
}

// api calls the agent API and decodes the JSON answer.
func (e *chatEnv) api(method, path, key string, body any, hdr map[string]string) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func proposalBody(postID string) map[string]any {
	return map[string]any{
		"action": "restart", "params": map[string]any{"service": "payments-api", "env": "prod"},
		"purpose": "OOM loop, INC-4211", "proposal_post_id": postID,
		"tool_calls": []map[string]any{
			{"call_id": "c1", "tool": "grafana.query", "input": map[string]any{"q": "mem"}, "output": []int{1, 2}, "status": "ok", "started_at": "2026-11-27T10:00:00Z", "ended_at": "2026-11-27T10:00:01Z"},
			{"call_id": "c2", "parent_id": "c1", "tool": "kubectl.logs", "input": map[string]any{"pod": "p"}, "output_digest": "sha256:" + strings.Repeat("ab", 32), "status": "ok", "started_at": "2026-11-27T10:00:02Z"},
		},
	}
}

func TestAgentProposesThroughOwnPost(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newChatEnv(t, b, envOptions{})
		key := e.agentKey()
		prop := e.fake.Reply(mmfake.RootPostID, mmfake.TestbotID, "I propose restarting payments-api in prod.")
		code, out := e.api("POST", "/api/v1/requests", key, proposalBody(prop.Id), nil)
		if code != http.StatusCreated {
			t.Fatalf("create: %d %v", code, out)
		}
		id, _ := out["id"].(string)
		if out["state"] != "pending" || out["url"] != e.url+"/requests/"+id || !strings.Contains(out["outcome"].(string), "2 approvals") {
			t.Fatalf("answer %v", out)
		}
		r, err := e.svc.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if r.RequesterType != models.ActorAgent || r.RequesterID != mmfake.TestbotID || r.SponsorName != "admin" || r.SponsorID != mmfake.AdminID ||
			r.TriggerPostID != prop.Id || r.RootPostID != mmfake.RootPostID || len(r.ToolCalls) != 2 || r.ToolCalls[1].ParentID != "c1" {
			t.Fatalf("stored %+v", r)
		}
		// The deep link finds it from the proposal post and the thread root.
		for _, post := range []string{prop.Id, mmfake.RootPostID} {
			if got, err := e.svc.FindByPost(context.Background(), post); err != nil || got.ID != id {
				t.Fatalf("FindByPost(%s) = %v, %v", post, got, err)
			}
		}
	})
}

func TestAgentCannotProposeThroughOthersPosts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newChatEnv(t, b, envOptions{})
		key := e.agentKey()
		other := e.fake.AddBot("otherbot", mmfake.AdminID)
		e.fake.AddMember(mmfake.ChannelID, other.Id)
		posts := map[string]string{
			"another bot's post":             e.fake.Reply(mmfake.RootPostID, other.Id, "restart payments-api").Id,
			"a human's post":                 mmfake.RootPostID,
			"a webhook post named like it":   e.fake.WebhookPost(mmfake.ChannelID, mmfake.AdminID, "testbot", "restart payments-api").Id,
			"a command reply named like it":  e.fake.CommandReply(mmfake.ChannelID, mmfake.RootPostID, mmfake.AliceID, "testbot", "restart").Id,
			"its own post through a webhook": e.fake.AddPost(&model.Post{ChannelId: mmfake.ChannelID, UserId: mmfake.TestbotID, Message: "x", Props: model.StringInterface{"from_webhook": "true"}}).Id,
		}
		for name, id := range posts {
			code, out := e.api("POST", "/api/v1/requests", key, proposalBody(id), nil)
			if code != http.StatusForbidden || out["field"] != "proposal_post_id" {
				t.Errorf("%s: %d %v", name, code, out)
			}
		}
		code, out := e.api("POST", "/api/v1/requests", key, proposalBody("zzzzzzzzzzzzzzzzzzzzzzzzzz"), nil)
		if code != http.StatusUnprocessableEntity || out["field"] != "proposal_post_id" {
			t.Errorf("missing post: %d %v", code, out)
		}
		e.wantCount("requests", 0, "requests stored")
	})
}

func TestAgentIdempotentReplay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newChatEnv(t, b, envOptions{})
		key := e.agentKey()
		prop := e.fake.Reply(mmfake.RootPostID, mmfake.TestbotID, "proposal")
		hdr := map[string]string{"Idempotency-Key": "run-42/step-7"}
		code, first := e.api("POST", "/api/v1/requests", key, proposalBody(prop.Id), hdr)
		if code != http.StatusCreated {
			t.Fatalf("first: %d %v", code, first)
		}
		// Same body, other key order and spacing: the same request.
		raw, _ := json.MarshalIndent(proposalBody(prop.Id), "", "   ")
		code, again := e.api("POST", "/api/v1/requests", key, string(raw), hdr)
		if code != http.StatusOK || again["id"] != first["id"] {
			t.Fatalf("replay: %d %v, want 200 with %v", code, again, first["id"])
		}
		changed := proposalBody(prop.Id)
		changed["purpose"] = "something else"
		code, out := e.api("POST", "/api/v1/requests", key, changed, hdr)
		if code != http.StatusConflict || out["field"] != "Idempotency-Key" {
			t.Fatalf("other body, same key: %d %v", code, out)
		}
		e.wantCount("requests", 1, "requests")
		e.wantCount("agent_idempotency", 1, "idempotency records")
	})
}

func TestAgentAPIBadInput(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newChatEnv(t, b, envOptions{})
		key := e.agentKey()
		prop := e.proposal()
		with := func(f func(m map[string]any)) map[string]any { m := proposalBody(prop); f(m); return m }
		cases := []struct {
			name  string
			key   string
			body  any
			code  int
			field string
		}{
			{"no credential", "", proposalBody(prop), 401, ""},
			{"bad key", "cs_aaaaaaaaaaaaaaaa_" + strings.Repeat("a", 52), proposalBody(prop), 401, ""},
			{"not JSON", key, "{", 400, "body"},
			{"unknown field", key, with(func(m map[string]any) { m["admin"] = true }), 400, "body"},
			{"too large", key, with(func(m map[string]any) { m["purpose"] = strings.Repeat("x", 70<<10) }), 413, ""},
			{"unknown action", key, with(func(m map[string]any) { m["action"] = "deploy" }), 422, "action"},
			{"action not for agents", key, with(func(m map[string]any) { m["action"] = "scale"; m["params"] = map[string]any{"replicas": 3} }), 422, "action"},
			{"bad param", key, with(func(m map[string]any) { m["params"] = map[string]any{"service": "x", "env": "dev"} }), 422, "params.env"},
			{"param wrong type", key, with(func(m map[string]any) { m["params"] = map[string]any{"service": 5, "env": "prod"} }), 422, "params.service"},
			{"no purpose", key, with(func(m map[string]any) { delete(m, "purpose") }), 422, "purpose"},
			{"bad post id", key, with(func(m map[string]any) { m["proposal_post_id"] = "../x" }), 422, "proposal_post_id"},
			{"tool parent later", key, with(func(m map[string]any) {
				m["tool_calls"] = []map[string]any{{"call_id": "a", "parent_id": "b", "tool": "t", "status": "ok", "started_at": "2026-11-27T10:00:00Z"}}
			}), 422, "tool_calls[0].parent_id"},
			{"tool bad status", key, with(func(m map[string]any) {
				m["tool_calls"] = []map[string]any{{"call_id": "a", "tool": "t", "status": "maybe", "started_at": "2026-11-27T10:00:00Z"}}
			}), 422, "tool_calls[0].status"},
			{"bad digest", key, with(func(m map[string]any) {
				m["tool_calls"] = []map[string]any{{"call_id": "a", "tool": "t", "status": "ok", "output_digest": "md5", "started_at": "2026-11-27T10:00:00Z"}}
			}), 422, "tool_calls[0].output_digest"},
		}
		for _, tc := range cases {
			code, out := e.api("POST", "/api/v1/requests", tc.key, tc.body, nil)
			if code != tc.code || (tc.field != "" && out["field"] != tc.field) {
				t.Errorf("%s: %d %v, want %d on %q", tc.name, code, out, tc.code, tc.field)
			}
		}
		// An action the agent may not request reads like one that does not
		// exist: the answer does not reveal the catalogue.
		_, unknown := e.api("POST", "/api/v1/requests", key, with(func(m map[string]any) { m["action"] = "scale"; m["params"] = map[string]any{"replicas": 3} }), nil)
		_, missing := e.api("POST", "/api/v1/requests", key, with(func(m map[string]any) { m["action"] = "sca1e" }), nil)
		if unknown["error"] != `action: "scale" is not an action this agent may request` || missing["error"] != `action: "sca1e" is not an action this agent may request` {
			t.Errorf("forbidden and unknown actions answered differently: %v / %v", unknown, missing)
		}
		code, out := e.api("POST", "/api/v1/requests", key, proposalBody(prop), map[string]string{"Idempotency-Key": "has space"})
		if code != 422 || out["field"] != "Idempotency-Key" {
			t.Errorf("bad idempotency key: %d %v", code, out)
		}
		e.wantCount("requests", 0, "requests stored by bad calls")
	})
}

func TestAgentLongPoll(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newChatEnv(t, b, envOptions{})
		key := e.agentKey()
		prop := e.proposal()
		_, out := e.api("POST", "/api/v1/requests", key, proposalBody(prop), nil)
		id := out["id"].(string)

		// Nothing changes: the poll ends at its timeout with the same state.
		code, got := e.api("GET", "/api/v1/requests/"+id+"?wait=30ms&since_state=pending", key, nil, nil)
		if code != 200 || got["state"] != "pending" || got["grant"] != nil {
			t.Fatalf("timeout poll: %d %v", code, got)
		}
		// A change while waiting ends the poll with the new state and the grant.
		done := make(chan map[string]any, 1)
		go func() {
			_, got := e.api("GET", "/api/v1/requests/"+id+"?wait=20s&since_state=pending", key, nil, nil)
			done <- got
		}()
		if _, err := e.svc.Move(context.Background(), approval.Transition{ID: id, From: models.StatePending, To: models.StateApproved,
			Actor: models.Actor{Type: models.ActorHuman, ID: mmfake.BobID, Display: "bob"}}); err != nil {
			t.Fatal(err)
		}
		got = <-done
		if got["state"] != "approved" || got["grant"] != "grant-for-"+id {
			t.Fatalf("changed poll: %v", got)
		}
		// since_state already behind: answers at once.
		if _, got = e.api("GET", "/api/v1/requests/"+id+"?wait=20s&since_state=pending", key, nil, nil); got["state"] != "approved" {
			t.Fatalf("stale since_state: %v", got)
		}
		for _, q := range []string{"?wait=soon", "?since_state=sleeping"} {
			if code, got := e.api("GET", "/api/v1/requests/"+id+q, key, nil, nil); code != 422 {
				t.Errorf("%s: %d %v", q, code, got)
			}
		}
	})
}

func TestAgentReadsOnlyOwnRequests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newChatEnv(t, b, envOptions{})
		key := e.agentKey()
		id := requestIDIn(t, e.say("restart web env=prod -- alice's own").Text)
		for _, path := range []string{"/api/v1/requests/" + id, "/api/v1/requests/REQ-0000000000"} {
			if code, out := e.api("GET", path, key, nil, nil); code != 404 {
				t.Errorf("%s: %d %v", path, code, out)
			}
		}
		if code, _ := e.api("GET", "/api/v1/requests/"+id, "", nil, nil); code != 401 {
			t.Errorf("no credential: %d", code)
		}
	})
}

// TestAgentWithUnknownSponsorIsRefused: a sponsor configured by a username
// Mattermost does not know is a registration error; the proposal is refused
// with a message saying so and nothing is stored.
func TestAgentWithUnknownSponsorIsRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newChatEnv(t, b, envOptions{sponsor: "ghost"})
		prop := e.fake.Reply(mmfake.RootPostID, mmfake.TestbotID, "I propose restarting payments-api in prod.")
		code, out := e.api("POST", "/api/v1/requests", e.agentKey(), proposalBody(prop.Id), nil)
		if code != http.StatusInternalServerError || !strings.Contains(fmt.Sprint(out["error"]), "@ghost is not a Mattermost user") {
			t.Fatalf("create: %d %v", code, out)
		}
		var n int64
		e.store.DB(context.Background()).Model(&models.Request{}).Count(&n)
		if n != 0 {
			t.Fatalf("%d requests stored", n)
		}
	})
}

// TestAgentToldHowMattermostFailed: an error answer from Mattermost is
// reported as one (502, with the status), a refused bot token as a matter
// for an administrator, never as "did not answer in time"; nothing is
// stored either way.
func TestAgentToldHowMattermostFailed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newChatEnv(t, b, envOptions{})
		key := e.agentKey()
		prop := e.fake.Reply(mmfake.RootPostID, mmfake.TestbotID, "I propose restarting payments-api in prod.")
		for status, want := range map[int]string{
			http.StatusInternalServerError: "Mattermost answered with an error (HTTP 500)",
			http.StatusUnauthorized:        "Mattermost refused Countersign's bot token",
		} {
			e.fake.Inject(mmfake.Fault{Method: http.MethodGet, PathPrefix: "/api/v4/posts/", Status: status, Times: 100})
			code, out := e.api("POST", "/api/v1/requests", key, proposalBody(prop.Id), nil)
			e.fake.ClearFaults()
			msg, _ := out["error"].(string)
			if code != http.StatusBadGateway || !strings.Contains(msg, want) || strings.Contains(msg, "in time") {
				t.Errorf("Mattermost answering %d: %d %v, want 502 saying %q", status, code, out, want)
			}
		}
		e.wantCount("requests", 0, "requests stored")
	})
}

// TestAgentAPIOversizedChunkedBody: a body sent without a length (chunked)
// that passes the server's limit while it is read is refused with 413,
// like one whose declared length is too large; nothing is stored.
func TestAgentAPIOversizedChunkedBody(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newChatEnv(t, b, envOptions{serverBodyLimit: "32K"})
		key := e.agentKey()
		body := `{"action":"restart","purpose":"` + strings.Repeat("x", 40<<10) + `"}`
		for _, chunked := range []bool{true, false} {
			req, _ := http.NewRequest(http.MethodPost, e.url+"/api/v1/requests", io.MultiReader(strings.NewReader(body)))
			if !chunked {
				req, _ = http.NewRequest(http.MethodPost, e.url+"/api/v1/requests", strings.NewReader(body))
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if (req.ContentLength <= 0) != chunked {
				t.Fatalf("chunked=%v but the request declares length %d", chunked, req.ContentLength)
			}
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("chunked=%v: status %d, want 413", chunked, resp.StatusCode)
			}
		}
		e.wantCount("requests", 0, "requests stored")
	})
}
