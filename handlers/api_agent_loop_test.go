package handlers_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/countersign/countersign/handlers"
	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/agents"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/execution"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/models/policy"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/models/terms"
	"github.com/countersign/countersign/web/mattermost/mmfake"
	"github.com/countersign/countersign/web/session"
)

// loopEnv is the agent API with real grants and executions, wired as
// serve wires them: terms, grant minting and execution queueing run as
// approval hooks; the agent API redeems and records through the grant and
// execution services; the request page reads both.
type loopEnv struct {
	*chatEnv
	grants *grant.Service
	execs  *execution.Service
	pages  *handlers.Requests
	// otherBot is a second registered agent.
	otherBot string
}

func newLoopEnv(t *testing.T, b storetest.Backend) *loopEnv {
	t.Helper()
	fake, bot, client := newFakeChat(t, nil)
	other := fake.AddBot("otherbot", mmfake.AdminID)
	fake.AddMember(mmfake.ChannelID, other.Id)
	s := b.Open(t)
	srv := httptest.NewUnstartedServer(nil)
	url := "http://" + srv.Listener.Addr().String()
	g, err := grant.New(s, grant.Config{Issuer: url})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.EnsureKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	pol := policy.NewHolder(testPolicy(t))
	svc := approval.New(s, approval.Config{Policy: pol, Effects: approval.Effects{
		Idempotency: agents.IdempotencyHook{}, Terms: terms.Hook(nil), Grant: g.Hook(), Execution: execution.Hook(),
	}})
	execs := execution.New(s, svc, g, nil)
	keys, auth := newAgentAuth(t, s,
		agents.Agent{Name: "testbot", BotUserID: mmfake.TestbotID, Sponsor: "admin"},
		agents.Agent{Name: "otherbot", BotUserID: other.Id, Sponsor: "admin"},
	)
	echoSrv, err := handlers.New(handlers.Options{
		Logger: slog.New(slog.DiscardHandler), DB: s, Registry: prometheus.NewRegistry(), PublicURL: url,
		Chat: &handlers.Chat{Client: client, Approvals: svc, Agents: &handlers.AgentEndpoints{
			Auth: auth, Records: agents.Store{S: s},
			Options: handlers.AgentAPIOptions{
				Grants: g, Redeemer: g, Results: execs, BodyLimit: 64 << 10, PollInterval: 5 * time.Millisecond,
			},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = echoSrv
	srv.Start()
	t.Cleanup(srv.Close)
	return &loopEnv{
		chatEnv:  &chatEnv{t: t, fake: fake, store: s, svc: svc, keys: keys, url: url, botID: bot.Id},
		grants:   g,
		execs:    execs,
		pages:    handlers.NewRequests(svc, handlers.RequestsOptions{PublicURL: url, Executions: execs, Grants: g}),
		otherBot: other.Id,
	}
}

// keyFor makes an API key for a registered agent.
func (e *loopEnv) keyFor(agent string) string {
	e.t.Helper()
	k, _, err := e.keys.Create(context.Background(), agent, 0, models.Actor{Type: models.ActorHuman, ID: "ops", Display: "ops"})
	if err != nil {
		e.t.Fatal(err)
	}
	return k
}

// propose creates a request as testbot through the API.
func (e *loopEnv) propose(key string) string {
	e.t.Helper()
	prop := e.fake.Reply(mmfake.RootPostID, mmfake.TestbotID, "I propose restarting payments-api in prod.")
	code, out := e.api("POST", "/api/v1/requests", key, proposalBody(prop.Id), nil)
	if code != http.StatusCreated {
		e.t.Fatalf("create: %d %v", code, out)
	}
	return out["id"].(string)
}

// approve records the two approvals the test policy needs.
func (e *loopEnv) approve(id string) {
	e.t.Helper()
	ctx := context.Background()
	r, err := e.svc.Get(ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, name := range []string{"bob", "carol"} {
		_, err := e.svc.Decide(ctx, approval.Decision{
			RequestID: id, Verdict: models.VerdictApprove, ContentHash: r.ContentHash,
			Approver: approval.Approver{Actor: models.Actor{Type: models.ActorHuman, ID: "sub-" + name, Display: name}, Username: name, Roles: []string{"approver"}},
			StepUp:   approval.StepUp{AuthTime: time.Now(), ACR: "mfa", AMR: []string{"otp"}, IDTokenHash: strings.Repeat("ab", 32)},
		})
		if err != nil {
			e.t.Fatalf("approval by %s: %v", name, err)
		}
	}
}

// approvedGrant has testbot propose a request through the API and
// approves it; it returns the request's id, testbot's key and the grant
// the agent reads back.
func (e *loopEnv) approvedGrant() (id, key, tok string) {
	e.t.Helper()
	key = e.keyFor("testbot")
	id = e.propose(key)
	e.approve(id)
	_, got := e.api("GET", "/api/v1/requests/"+id, key, nil, nil)
	tok, _ = got["grant"].(string)
	return id, key, tok
}

// redeemByHash redeems tok naming the proposal's parameters by their
// hash, failing the test unless the API accepts it.
func (e *loopEnv) redeemByHash(id, key, tok string) {
	e.t.Helper()
	sum := grant.ParamsHash(`{"env":"prod","service":"payments-api"}`)
	if code, out := e.api("POST", "/api/v1/requests/"+id+"/grant/redeem", key, map[string]any{"grant": tok, "params_sha256": sum}, nil); code != 200 {
		e.t.Fatalf("redeem by hash: %d %v", code, out)
	}
}

// lastMinute returns a result body with status and a run that took the
// last minute, plus the fields in more.
func lastMinute(status string, more map[string]any) map[string]any {
	body := map[string]any{"status": status, "started_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano), "ended_at": time.Now().UTC().Format(time.RFC3339Nano)}
	for k, v := range more {
		body[k] = v
	}
	return body
}

// reasons lists the "reason" of every audit event of type typ on id, with
// the acting identity: "actor:reason".
func (e *loopEnv) reasons(typ, id string) []string {
	e.t.Helper()
	var evs []models.AuditEvent
	if err := e.store.DB(context.Background()).Where("type = ? AND request_id = ?", typ, id).Order("seq").Find(&evs).Error; err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		var p struct{ Reason string }
		_ = json.Unmarshal([]byte(ev.Payload), &p)
		out = append(out, ev.ActorID+":"+p.Reason)
	}
	return out
}

// page renders the request page for an approver.
func (e *loopEnv) page(id string) (*goquery.Document, string) {
	e.t.Helper()
	u := &session.User{Subject: "sub-bob", Username: "bob", Name: "Bob", Roles: []string{"approver"}}
	ec := echo.New()
	ec.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			session.WithUser(c, u)
			session.WithCSRFToken(c, "csrf-token")
			return next(c)
		}
	})
	ec.GET("/requests/:id", e.pages.Show)
	rec := httptest.NewRecorder()
	ec.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/requests/"+id, nil))
	if rec.Code != http.StatusOK {
		e.t.Fatalf("request page: %d %s", rec.Code, rec.Body.String())
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(rec.Body.String()))
	if err != nil {
		e.t.Fatal(err)
	}
	return doc, rec.Body.String()
}

func testid(id string) string { return `[data-testid="` + id + `"]` }

func text(doc *goquery.Document, id string) string {
	return strings.Join(strings.Fields(doc.Find(testid(id)).Text()), " ")
}

func resultBody(status string) map[string]any {
	return map[string]any{
		"status": status, "output": map[string]any{"restarted": []string{"payments-api-0", "payments-api-1"}},
		"started_at": time.Now().Add(-2 * time.Second).UTC().Format(time.RFC3339), "ended_at": time.Now().UTC().Format(time.RFC3339),
	}
}

func TestAgentFullLoop(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newLoopEnv(t, b)
		key, otherKey := e.keyFor("testbot"), e.keyFor("otherbot")
		id := e.propose(key)

		// The agent waits; approvals in the portal end its wait with a grant.
		done := make(chan map[string]any, 1)
		go func() {
			_, got := e.api("GET", "/api/v1/requests/"+id+"?wait=20s&since_state=pending", key, nil, nil)
			done <- got
		}()
		e.approve(id)
		got := <-done
		tok, _ := got["grant"].(string)
		if got["state"] != "approved" || strings.Count(tok, ".") != 2 ||
			got["redeem_url"] != e.url+"/api/v1/requests/"+id+"/grant/redeem" || got["result_url"] != e.url+"/api/v1/requests/"+id+"/result" {
			t.Fatalf("approved poll: %v", got)
		}
		redeemPath, resultPath := "/api/v1/requests/"+id+"/grant/redeem", "/api/v1/requests/"+id+"/result"
		params := map[string]any{"env": "prod", "service": "payments-api"}

		// No result before the grant is redeemed.
		if code, out := e.api("POST", resultPath, key, resultBody("ok"), nil); code != http.StatusConflict || out["reason"] != "not_redeemed" {
			t.Fatalf("result before redeeming: %d %v", code, out)
		}
		// Another agent holding the token cannot spend it, through either path.
		if code, out := e.api("POST", redeemPath, otherKey, map[string]any{"grant": tok, "params": params}, nil); code != http.StatusForbidden || out["reason"] != "wrong_audience" {
			t.Fatalf("other agent redeems: %d %v", code, out)
		}
		// Parameters other than the approved ones are refused.
		if code, out := e.api("POST", redeemPath, key, map[string]any{"grant": tok, "params": map[string]any{"env": "staging", "service": "payments-api"}}, nil); code != http.StatusForbidden || out["reason"] != "params_mismatch" {
			t.Fatalf("other params: %d %v", code, out)
		}
		if g, _ := e.grants.Get(context.Background(), id); g.RedeemedAt != nil {
			t.Fatal("a refused redemption spent the grant")
		}
		// The agent redeems once, with the parameters it is about to use
		// (any key order: they are compared canonically).
		code, red := e.api("POST", redeemPath, key, `{"params": {"service": "payments-api", "env": "prod"}, "grant": "`+tok+`"}`, nil)
		if code != http.StatusOK || red["status"] != "redeemed" || red["request_id"] != id || red["action"] != "restart" || red["result_url"] != e.url+resultPath {
			t.Fatalf("redeem: %d %v", code, red)
		}
		if code, out := e.api("POST", redeemPath, key, map[string]any{"grant": tok, "params": params}, nil); code != http.StatusConflict || out["reason"] != "replayed" {
			t.Fatalf("second redeem: %d %v", code, out)
		}
		// Only the requesting agent reports; others read as 404.
		if code, out := e.api("POST", resultPath, otherKey, resultBody("ok"), nil); code != http.StatusNotFound {
			t.Fatalf("other agent reports: %d %v", code, out)
		}
		code, out := e.api("POST", resultPath, key, resultBody("ok"), nil)
		exec, _ := out["execution"].(map[string]any)
		if code != http.StatusOK || out["state"] != "executed" || exec["state"] != "succeeded" || exec["mode"] != "agent" {
			t.Fatalf("report: %d %v", code, out)
		}
		if code, out := e.api("POST", resultPath, key, resultBody("ok"), nil); code != http.StatusConflict || out["reason"] != "already_reported" {
			t.Fatalf("second report: %d %v", code, out)
		}
		if code, out := e.api("GET", "/api/v1/requests/"+id, key, nil, nil); code != 200 || out["state"] != "executed" || out["grant"] != nil || out["execution"] == nil {
			t.Fatalf("after the run: %d %v", code, out)
		}

		// Every refusal is audited, with who tried and why.
		grantRefusals := strings.Join(e.reasons("grant.refused", id), " ")
		if want := e.otherBot + ":wrong_audience " + mmfake.TestbotID + ":params_mismatch " + mmfake.TestbotID + ":replayed"; grantRefusals != want {
			t.Fatalf("grant refusals %q, want %q", grantRefusals, want)
		}
		execRefusals := strings.Join(e.reasons("execution.refused", id), " ")
		if want := mmfake.TestbotID + ":not_redeemed " + e.otherBot + ":not_requester " + mmfake.TestbotID + ":already_reported"; execRefusals != want {
			t.Fatalf("execution refusals %q, want %q", execRefusals, want)
		}
		for _, typ := range []string{"grant.issued", "grant.redeemed", "execution.succeeded"} {
			if n := len(e.reasons(typ, id)); n != 1 {
				t.Fatalf("%d %s events", n, typ)
			}
		}

		// The page shows the grant and the run after the approved chain,
		// never the token.
		doc, html := e.page(id)
		if strings.Contains(html, tok) || strings.Contains(html, strings.Split(tok, ".")[2]) {
			t.Fatal("the request page shows the grant token")
		}
		if got := text(doc, "grant-state"); got != "redeemed" {
			t.Fatalf("grant state %q", got)
		}
		if got := text(doc, "grant-redeemed-by"); got != "the requesting agent testbot" {
			t.Fatalf("redeemed by %q", got)
		}
		if got := text(doc, "grant-audience"); got != "the requesting agent testbot" {
			t.Fatalf("audience %q", got)
		}
		if doc.Find(testid("grant-expired")).Length() != 0 || doc.Find(testid("grant-issued")+" time").Length() != 1 || doc.Find(testid("grant-expires")+" time").Length() != 1 {
			t.Fatal("grant times or expiry shown wrongly")
		}
		if got := text(doc, "execution-state"); got != "succeeded, 1 attempt(s)" {
			t.Fatalf("execution state %q", got)
		}
		if got := strings.Join(strings.Fields(text(doc, "execution-output")), ""); got != `{"restarted":["payments-api-0","payments-api-1"]}` {
			t.Fatalf("execution output %q", got)
		}
		if text(doc, "execution-ran") == "" || text(doc, "execution-reported-by") != "the requesting agent testbot" {
			t.Fatalf("run times %q, reported by %q", text(doc, "execution-ran"), text(doc, "execution-reported-by"))
		}
		chain := strings.Index(html, testid("section-toolchain")[1:len(testid("section-toolchain"))-1])
		grantAt := strings.Index(html, `data-testid="section-grant"`)
		execAt := strings.Index(html, `data-testid="section-execution"`)
		if chain < 0 || grantAt < chain || execAt < grantAt {
			t.Fatalf("order: chain %d, grant %d, execution %d", chain, grantAt, execAt)
		}
		if doc.Find(testid("content-verified")).Length() != 1 {
			t.Fatal("the approved content no longer verifies after the run")
		}
	})
}

func TestAgentReportsAFailure(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newLoopEnv(t, b)
		id, key, tok := e.approvedGrant()
		e.redeemByHash(id, key, tok)
		body := lastMinute("error", map[string]any{"error": "pods did not become ready", "output_digest": "sha256:" + strings.Repeat("cd", 32)})
		code, out := e.api("POST", "/api/v1/requests/"+id+"/result", key, body, nil)
		exec, _ := out["execution"].(map[string]any)
		if code != 200 || out["state"] != "failed" || exec["state"] != "failed" || exec["error"] != "pods did not become ready" || exec["output_digest"] != body["output_digest"] {
			t.Fatalf("failure report: %d %v", code, out)
		}
		doc, _ := e.page(id)
		if text(doc, "execution-output-digest") != body["output_digest"] || text(doc, "execution-error") != "pods did not become ready" || doc.Find(testid("execution-output")).Length() != 0 {
			t.Fatalf("failure on the page: digest %q error %q", text(doc, "execution-output-digest"), text(doc, "execution-error"))
		}
	})
}

func TestAgentRedeemAndResultBadInput(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newLoopEnv(t, b)
		id, key, tok := e.approvedGrant()
		redeemPath, resultPath := "/api/v1/requests/"+id+"/grant/redeem", "/api/v1/requests/"+id+"/result"
		params := map[string]any{"env": "prod", "service": "payments-api"}
		cases := []struct {
			name, path, key string
			body            any
			code            int
			field, reason   string
		}{
			{"redeem: no credential", redeemPath, "", map[string]any{"grant": tok, "params": params}, 401, "", ""},
			{"redeem: not JSON", redeemPath, key, "{", 400, "body", ""},
			{"redeem: unknown field", redeemPath, key, map[string]any{"grant": tok, "params": params, "force": true}, 400, "body", ""},
			{"redeem: two objects", redeemPath, key, `{"grant":"x","params":{}} {}`, 400, "body", ""},
			{"redeem: no grant", redeemPath, key, map[string]any{"params": params}, 422, "grant", ""},
			{"redeem: no params", redeemPath, key, map[string]any{"grant": tok}, 422, "params", ""},
			{"redeem: both params forms", redeemPath, key, map[string]any{"grant": tok, "params": params, "params_sha256": strings.Repeat("a", 64)}, 422, "params_sha256", ""},
			{"redeem: params not an object", redeemPath, key, map[string]any{"grant": tok, "params": []int{1}}, 422, "params", ""},
			{"redeem: bad hash", redeemPath, key, map[string]any{"grant": tok, "params_sha256": "abc"}, 422, "params_sha256", ""},
			{"redeem: forged grant", redeemPath, key, map[string]any{"grant": tok[:len(tok)-4] + "AAAA", "params": params}, 403, "", "bad_signature"},
			{"redeem: garbage grant", redeemPath, key, map[string]any{"grant": "not-a-jwt", "params": params}, 403, "", "malformed"},
			{"redeem: for another request", "/api/v1/requests/REQ-0000000001/grant/redeem", key, map[string]any{"grant": tok, "params": params}, 403, "", "wrong_request"},
			{"result: no credential", resultPath, "", resultBody("ok"), 401, "", ""},
			{"result: not JSON", resultPath, key, "[", 400, "body", ""},
			{"result: unknown field", resultPath, key, map[string]any{"status": "ok", "started_at": "2026-11-27T10:00:00Z", "ended_at": "2026-11-27T10:00:01Z", "exit": 0}, 400, "body", ""},
			{"result: bad status", resultPath, key, with(resultBody("ok"), "status", "done"), 422, "status", ""},
			{"result: no status", resultPath, key, without(resultBody("ok"), "status"), 422, "status", ""},
			{"result: error text with ok", resultPath, key, with(resultBody("ok"), "error", "x"), 422, "error", ""},
			{"result: no start", resultPath, key, without(resultBody("ok"), "started_at"), 422, "started_at", ""},
			{"result: bad time", resultPath, key, with(resultBody("ok"), "ended_at", "yesterday"), 422, "ended_at", ""},
			{"result: ends before it starts", resultPath, key, with(resultBody("ok"), "ended_at", "2020-01-01T00:00:00Z"), 422, "ended_at", ""},
			{"result: output and digest", resultPath, key, with(resultBody("ok"), "output_digest", "sha256:"+strings.Repeat("a", 64)), 422, "output_digest", ""},
			{"result: bad digest", resultPath, key, with(without(resultBody("ok"), "output"), "output_digest", "md5"), 422, "output_digest", ""},
			{"result: too large", resultPath, key, with(resultBody("ok"), "output", strings.Repeat("x", 70<<10)), 413, "", ""},
			{"result: unknown request", "/api/v1/requests/REQ-0000000001/result", key, resultBody("ok"), 404, "", ""},
		}
		for _, tc := range cases {
			code, out := e.api("POST", tc.path, tc.key, tc.body, nil)
			if code != tc.code || (tc.field != "" && out["field"] != tc.field) || (tc.reason != "" && out["reason"] != tc.reason) || out["error"] == nil {
				t.Errorf("%s: %d %v, want %d field %q reason %q", tc.name, code, out, tc.code, tc.field, tc.reason)
			}
		}
		// Nothing was spent or recorded, and the request is still approved.
		if g, _ := e.grants.Get(context.Background(), id); g.RedeemedAt != nil {
			t.Fatal("bad calls spent the grant")
		}
		e.wantCount("executions", 0, "executions recorded by bad calls")
		if r, _ := e.svc.Get(context.Background(), id); r.State != models.StateApproved {
			t.Fatalf("request is %s", r.State)
		}
		// The refusals that reached the grant check are audited.
		if got := strings.Join(e.reasons("grant.refused", id), " "); got != mmfake.TestbotID+":wrong_request" {
			t.Fatalf("audited refusals on %s: %q", id, got)
		}
	})
}

func with(m map[string]any, k string, v any) map[string]any { m[k] = v; return m }

func without(m map[string]any, k string) map[string]any { delete(m, k); return m }
