package mcpgateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/agents"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/execution"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/models/mcpgate"
	"github.com/countersign/countersign/models/policy"
	"github.com/countersign/countersign/models/terms"
	"github.com/countersign/countersign/web/agentauth"
	"github.com/countersign/countersign/web/mcpexample"
	"github.com/countersign/countersign/web/mcpgateway"
)

// stdioEnv makes the test binary run the example ops server on stdio, so
// the gateway can start it as a stdio upstream.
const stdioEnv = "COUNTERSIGN_TEST_OPS_STDIO"

func TestMain(m *testing.M) {
	if os.Getenv(stdioEnv) == "1" {
		s := mcpexample.New().Server()
		// exit_now stands for a stdio server that dies mid-call.
		mcp.AddTool(s, &mcp.Tool{Name: "exit_now"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, struct{}, error) {
			os.Exit(3)
			return nil, struct{}{}, nil
		})
		if err := s.Run(context.Background(), &mcp.StdioTransport{}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testPolicy maps restart_service to the restart action: the database is
// never restarted by agents, staging is approved at once, prod waits for
// one sre.
const testPolicy = `version: 1
roles:
  sre: {idp_groups: [sre]}
  bots: {}
actions:
  - name: restart
    mcp_tool: ops/restart_service
    requesters: [bots]
    params:
      - {name: service, required: true, pattern: '[a-z0-9-]+'}
      - {name: env, allowed: [staging, prod], required: true}
  - name: slow-restart
    mcp_tool: ops/slow_restart
    requesters: [bots]
    params:
      - {name: service, required: true}
rules:
  - name: no-db
    when: request.params.service == "db"
    deny: Agents may not restart the database
  - name: staging
    when: request.action == "restart" && request.params.env == "staging"
    auto_approve: {}
  - name: prod
    when: "true"
    require: {approvals: 1, roles: [sre]}
`

// upstreamSecret is the upstream's own credential: only the gateway holds it.
const upstreamSecret = "Bearer upstream-only-secret"

type rig struct {
	t         testing.TB
	store     *models.Store
	approvals *approval.Service
	grants    *grant.Service
	execs     *execution.Service
	gate      *mcpgate.Service
	auth      *agentauth.Authenticator
	keys      map[string]string
	ops       *mcpexample.Ops
	// hang, when closed or nil, lets slow_restart answer; an open channel
	// makes it wait until the call's context ends.
	hang     chan struct{}
	upstream mcpgateway.UpstreamConfig
	gw       *mcpgateway.Gateway
	srv      *httptest.Server
	hold     time.Duration
	poll     time.Duration
	down     atomic.Bool
	proposer mcpgate.Proposer
	policy   *policy.Holder
	// upstreamHandler serves the HTTP upstream; replacing it is a restart
	// of the upstream (its sessions are gone).
	upstreamHandler atomic.Pointer[mcp.StreamableHTTPHandler]
}

type rigOption func(*rig)

// stdio makes the rig's upstream the ops server started as a process.
func stdio(r *rig) {
	exe, err := os.Executable()
	if err != nil {
		r.t.Fatal(err)
	}
	r.upstream = mcpgateway.UpstreamConfig{Name: "ops", Command: exe, Args: []string{"-test.run=^$"}, Env: []string{stdioEnv + "=1"}}
}

func holdFor(d time.Duration) rigOption { return func(r *rig) { r.hold = d } }

func newRig(t testing.TB, store *models.Store, opts ...rigOption) *rig {
	t.Helper()
	ctx := context.Background()
	p, err := policy.Parse("test.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	holder := policy.NewHolder(p)
	g, err := grant.New(store, grant.Config{Issuer: "https://countersign.test", SealKey: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.EnsureKey(ctx); err != nil {
		t.Fatal(err)
	}
	approvals := approval.New(store, approval.Config{Policy: holder, Effects: approval.Effects{
		Idempotency: agents.IdempotencyHook{}, Terms: terms.Hook(nil), Grant: g.Hook(), Execution: execution.Hook(),
	}})
	execs := execution.New(store, approvals, g, nil)
	reg, err := agents.NewRegistry([]agents.Agent{
		{Name: "deploy-bot", BotUserID: "aaaaaaaaaaaaaaaaaaaaaaaaaa", Sponsor: "dave", Roles: []string{"bots"}},
		{Name: "other-bot", BotUserID: "bbbbbbbbbbbbbbbbbbbbbbbbbb", Sponsor: "erin", Roles: []string{"bots"}},
		{Name: "reader-bot", BotUserID: "cccccccccccccccccccccccccc", Sponsor: "erin"},
	})
	if err != nil {
		t.Fatal(err)
	}
	keys := agents.NewKeys(store, reg, nil)
	auth, err := agentauth.New(ctx, agentauth.Config{Keys: keys, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, store: store, approvals: approvals, grants: g, execs: execs, auth: auth, keys: map[string]string{}, ops: mcpexample.New(), hold: 5 * time.Second, poll: 20 * time.Millisecond}
	for _, name := range []string{"deploy-bot", "other-bot", "reader-bot"} {
		k, _, err := keys.Create(ctx, name, time.Hour, models.SystemActor("test"))
		if err != nil {
			t.Fatal(err)
		}
		r.keys[name] = k
	}
	r.policy = holder
	r.gate = mcpgate.New(mcpgate.Config{Store: store, Policy: holder, Approvals: approvals, Grants: g, Executions: execs})
	r.upstream = r.httpUpstream()
	for _, o := range opts {
		o(r)
	}
	r.start()
	return r
}

// httpUpstream serves the ops server (plus slow_restart) over streamable
// HTTP, refusing any request without the upstream's own credential.
func (r *rig) httpUpstream() mcpgateway.UpstreamConfig {
	s := r.ops.Server()
	mcp.AddTool(s, &mcp.Tool{Name: "slow_restart", Description: "Restart, slowly"},
		func(ctx context.Context, _ *mcp.CallToolRequest, in mcpexample.StatusInput) (*mcp.CallToolResult, mcpexample.StatusOutput, error) {
			if h := r.hang; h != nil {
				select {
				case <-h:
				case <-ctx.Done():
					return nil, mcpexample.StatusOutput{}, ctx.Err()
				}
			}
			return nil, mcpexample.StatusOutput{Service: in.Service, State: "restarted"}, nil
		})
	r.upstreamHandler.Store(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		if req.Header.Get("Authorization") != upstreamSecret {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		r.upstreamHandler.Load().ServeHTTP(w, req)
	}))
	r.t.Cleanup(srv.Close)
	return mcpgateway.UpstreamConfig{Name: "ops", URL: srv.URL, Headers: map[string]string{"Authorization": upstreamSecret}, Timeout: 2 * time.Second}
}

// start (re)starts the gateway: a new process as far as the gateway's
// memory goes, on the same database and upstream.
func (r *rig) start() {
	r.t.Helper()
	if r.srv != nil {
		r.gw.Close()
		r.srv.CloseClientConnections()
		r.srv.Close()
	}
	up, err := mcpgateway.Dial(context.Background(), r.upstream)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { _ = up.Close() })
	r.gw = mcpgateway.New(mcpgateway.Config{
		Upstreams: []*mcpgateway.Upstream{up}, Auth: r.auth, Gate: r.gate, PortalURL: "https://countersign.test", Proposer: r.proposer,
		Hold: r.hold, Poll: r.poll, ProgressEvery: 100 * time.Millisecond,
	})
	r.srv = httptest.NewServer(r.gw)
	r.t.Cleanup(r.srv.Close)
}

// bearer adds an Authorization header to every request.
type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(req)
}

// connect opens an MCP session as agent.
func (r *rig) connect(agent string) *mcp.ClientSession {
	r.t.Helper()
	return r.connectWith(agent, nil)
}

func (r *rig) connectWith(agent string, opts *mcp.ClientOptions) *mcp.ClientSession {
	r.t.Helper()
	hc := &http.Client{Transport: bearer{token: r.keys[agent], base: http.DefaultTransport}}
	c := mcp.NewClient(&mcp.Implementation{Name: agent}, opts)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: r.srv.URL, HTTPClient: hc, MaxRetries: -1}, nil)
	if err != nil {
		r.t.Fatalf("connect as %s: %v", agent, err)
	}
	r.t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// call calls a tool; meta may be nil.
func (r *rig) call(cs *mcp.ClientSession, tool string, args map[string]any, meta mcp.Meta) *mcp.CallToolResult {
	r.t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Meta: meta, Name: tool, Arguments: args})
	if err != nil {
		r.t.Fatalf("call %s: %v", tool, err)
	}
	return res
}

func restartArgs(service, env string) map[string]any {
	return map[string]any{"service": service, "env": env}
}

// status returns what a result says in _meta about a gated call.
func status(res *mcp.CallToolResult) (state, requestID string) {
	s, _ := res.Meta[mcpgateway.MetaStatus].(string)
	id, _ := res.Meta[mcpgateway.MetaRequest].(string)
	return s, id
}

func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			b.WriteString(t.Text)
		}
	}
	return b.String()
}

// approve records alice's approval (an sre with a fresh sign-in).
func (r *rig) approve(id string) {
	r.t.Helper()
	r.decide(id, models.VerdictApprove)
}

func (r *rig) decide(id string, v models.Verdict) {
	r.t.Helper()
	req, err := r.approvals.Get(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	comment := ""
	if v == models.VerdictDeny {
		comment = "not during the freeze"
	}
	_, err = r.approvals.Decide(context.Background(), approval.Decision{
		RequestID: id, Verdict: v, Comment: comment, ContentHash: req.ContentHash,
		Approver: approval.Approver{Actor: models.Actor{Type: models.ActorHuman, ID: "sub-alice", Display: "alice"}, Username: "alice", Roles: []string{"sre"}},
		StepUp:   approval.StepUp{AuthTime: time.Now(), ACR: "mfa", AMR: []string{"otp"}, IDTokenHash: strings.Repeat("ab", 32)},
	})
	if err != nil {
		r.t.Fatalf("decide %s: %v", id, err)
	}
}

// request loads a request with its tool chain.
func (r *rig) request(id string) *models.Request {
	r.t.Helper()
	req, err := r.approvals.Get(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return req
}

// waitPending waits until agent's newest request is pending and returns
// its id.
func (r *rig) waitPending() string {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var rows []models.Request
		r.store.DB(context.Background()).Where("state = ?", models.StatePending).Order("created_at DESC").Limit(1).Find(&rows)
		if len(rows) == 1 {
			return rows[0].ID
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.t.Fatal("no request became pending")
	return ""
}

// events counts audit events of a type about request id.
func (r *rig) events(typ, id string) int {
	r.t.Helper()
	var n int64
	if err := r.store.DB(context.Background()).Model(&models.AuditEvent{}).Where("type = ? AND request_id = ?", typ, id).Count(&n).Error; err != nil {
		r.t.Fatal(err)
	}
	return int(n)
}

func structured(t *testing.T, res *mcp.CallToolResult, into any) {
	t.Helper()
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatalf("structured content %s: %v", b, err)
	}
}

// upstreamDown makes the HTTP upstream refuse every request from now on.
func (r *rig) upstreamDown() {
	r.t.Helper()
	r.down.Store(true)
}
