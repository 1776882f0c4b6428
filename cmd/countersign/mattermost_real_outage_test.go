package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// TestRealOutageDrainsOnceAndCatchesUp: Countersign loses Mattermost (the
// link between them is cut; both keep running). bob approves in the
// portal meanwhile — the decision goes ahead on the capture — and alice
// mentions the bot in a thread. When the link is back, the queued chat
// work is delivered exactly once (one request message, updated in place
// past PENDING; one decision reply; one DM to alice), the WebSocket
// reconnects, and the mention made during the outage is answered once
// with a request made from its thread.
func TestRealOutageDrainsOnceAndCatchesUp(t *testing.T) {
	e := newRealEnvWith(t, realOptions{proxy: true})
	w := e.w
	alice := e.person("alice")
	w.Post(alice, w.Channel.Id, "api is stuck")
	id := e.created(e.slash("alice", w.Channel.Id, "restart api prod -- stuck", ""))
	msg := e.requestMessage(w.Channel.Id, id, nil)
	waitLog(t, e, `"msg":"mattermost websocket: connected"`, 1)

	if got := metricValue(t, e, "countersign_mattermost_websocket_connected"); got != "1" {
		t.Errorf("connected gauge %q while connected", got)
	}
	e.proxy.Cut()
	waitLog(t, e, `"msg":"mattermost websocket: disconnected"`, 1)
	if got := metricValue(t, e, "countersign_mattermost_websocket_connected"); got != "0" {
		t.Errorf("connected gauge %q during the outage", got)
	}
	v := e.signIn("bob")
	if status, loc, body := v.decide(id, "approve", "during the outage"); status != http.StatusSeeOther || !strings.Contains(loc, "decided=approve") {
		t.Fatalf("approve during the outage: %d %s %s", status, loc, snippetOf(body))
	}
	root := w.Post(alice, w.Channel.Id, "db is stuck too")
	mention := w.Reply(alice, root.Id, "@"+w.Bot.User.Username+" restart db prod -- stuck as well")
	time.Sleep(3 * time.Second) // the outbox and the WebSocket try and fail meanwhile
	e.proxy.Restore()

	w.WaitForPost(w.Channel.Id, 0, 60*time.Second, func(p *model.Post) bool {
		// Rendered from the database when sent: approved, or already past it.
		return p.Id == msg.Id && p.EditAt > 0 && !strings.Contains(p.Message, "PENDING")
	})
	answer := w.WaitForPost(w.Channel.Id, mention.CreateAt, 60*time.Second, func(p *model.Post) bool {
		return p.UserId == w.Bot.User.Id && p.RootId == root.Id && strings.Contains(p.Message, "Review it in Countersign")
	})
	caught := e.created(answer.Message)
	waitDM(t, e, alice, func(p *model.Post) bool {
		return strings.Contains(p.Message, id) && strings.Contains(p.Message, "approved")
	})
	time.Sleep(2 * time.Second) // anything sent twice would be here by now

	var requestMsgs, decisionReplies, answers int
	for _, p := range w.ChannelPosts(w.Channel.Id, 0) {
		if p.UserId != w.Bot.User.Id || p.DeleteAt != 0 {
			continue
		}
		switch {
		case p.GetProp("countersign_request") == id && p.RootId == "":
			requestMsgs++
		case p.RootId == msg.Id && strings.Contains(p.Message, "approved "+id):
			decisionReplies++
		case p.RootId == root.Id && strings.Contains(p.Message, caught):
			if !strings.Contains(p.Message, "Countersign request ") {
				answers++
			}
		}
	}
	if requestMsgs != 1 || decisionReplies != 1 || answers != 1 {
		t.Errorf("after the outage: %d request messages, %d decision replies, %d answers to the mention; want 1 each", requestMsgs, decisionReplies, answers)
	}
	var dms int
	for _, p := range w.ChannelPosts(w.DirectChannel(alice).Id, 0) {
		if strings.Contains(p.Message, id) && strings.Contains(p.Message, "approved") {
			dms++
		}
	}
	if dms != 1 {
		t.Errorf("alice told %d times", dms)
	}
	doc := v.page("/requests/" + caught)
	if msgs := testids(doc.Selection, "post-message"); len(msgs) != 2 || msgs[0] != "db is stuck too" {
		t.Errorf("the mention made during the outage captured %q, want its thread", msgs)
	}
}

// TestRealAgentProposalInThread: an agent's bot posts its proposal in a
// thread of the real server and asks through the agent API with its key;
// the request captures the thread, its requester is the agent with carol
// as sponsor, Countersign's message goes into the thread; bob approves and
// the agent, waiting on the API, gets its grant. A proposal post written
// by a person is refused (403) and stores nothing.
func TestRealAgentProposalInThread(t *testing.T) {
	e := newRealEnvWith(t, realOptions{agent: true})
	w := e.w
	carol := e.person("carol")
	root := w.Post(carol, w.Channel.Id, "api latency is climbing")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	proposal, _, err := e.agent.Client.CreatePost(ctx, &model.Post{ChannelId: w.Channel.Id, RootId: root.Id, Message: "I propose restarting api in prod: memory at 94%"})
	if err != nil {
		t.Fatal(err)
	}
	code, key, errOut := runCmd("agent", "key", "create", "deploy-agent", "--config", e.config)
	if code != exitOK {
		t.Fatalf("agent key create: %d %s", code, errOut)
	}
	key = strings.TrimSpace(key)
	call := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, e.base+path, rd)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	body := map[string]any{
		"action": "restart", "params": map[string]any{"service": "api", "env": "prod"}, "purpose": "latency, INC-77",
		"proposal_post_id": proposal.Id,
		"tool_calls": []map[string]any{{"call_id": "c1", "tool": "grafana.query", "input": map[string]any{"q": "mem"},
			"output": map[string]any{"p99": "94%"}, "status": "ok", "started_at": time.Now().UTC().Format(time.RFC3339)}},
	}
	human := w.Reply(carol, root.Id, "I propose restarting api in prod: memory at 94%")
	bad := map[string]any{}
	for k, v := range body {
		bad[k] = v
	}
	bad["proposal_post_id"] = human.Id
	if status, out := call(http.MethodPost, "/api/v1/requests", bad); status != http.StatusForbidden {
		t.Fatalf("a person's post as the proposal: %d %v", status, out)
	}
	status, out := call(http.MethodPost, "/api/v1/requests", body)
	if status != http.StatusCreated {
		t.Fatalf("agent request: %d %v", status, out)
	}
	id, _ := out["id"].(string)
	if msg := e.requestMessage(w.Channel.Id, id, nil); msg.RootId != root.Id {
		t.Errorf("request message in %q, want the thread %s", msg.RootId, root.Id)
	}
	v := e.signIn("bob")
	doc := v.page("/requests/" + id)
	if msgs := testids(doc.Selection, "post-message"); len(msgs) < 2 || msgs[0] != "api latency is climbing" {
		t.Errorf("captured %q, want the thread from its root", msgs)
	}
	if !strings.Contains(doc.Text(), "grafana.query") || !strings.Contains(doc.Text(), w.Name("carol")) {
		t.Errorf("the page shows neither the tool chain nor the sponsor")
	}
	if status, loc, body := v.decide(id, "approve", "ok for the agent"); status != http.StatusSeeOther || !strings.Contains(loc, "decided=approve") {
		t.Fatalf("bob approves: %d %s %s", status, loc, snippetOf(body))
	}
	status, out = call(http.MethodGet, "/api/v1/requests/"+id+"?wait=10s&since_state=pending", nil)
	if status != http.StatusOK || out["state"] != "approved" || out["grant"] == nil {
		t.Fatalf("agent waits: %d %v", status, out)
	}
}

// waitLog waits until the portal log holds needle at least n times.
func waitLog(t *testing.T, e *realEnv, needle string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(e.log.String(), needle) < n {
		if time.Now().After(deadline) {
			t.Fatalf("no %s in the portal log after 30 s", needle)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metricValue reads one unlabelled metric from the portal's /metrics.
func metricValue(t *testing.T, e *realEnv, name string) string {
	t.Helper()
	resp, err := http.Get(e.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}
