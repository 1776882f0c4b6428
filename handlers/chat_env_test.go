package handlers_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/countersign/countersign/handlers"
	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/agents"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/policy"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/agentauth"
	"github.com/countersign/countersign/web/mattermost"
	"github.com/countersign/countersign/web/mattermost/mmfake"
)

// captureEnd is just after the captured session's last post, so the
// fixture posts are inside the 24 h channel window.
var captureEnd = time.UnixMilli(1795768872850).Add(time.Minute)

// Command tokens: two while rotating.
const (
	tokenOld = "old-command-token-0123456789"
	tokenNew = "new-command-token-0123456789"
)

// chatEnv is the portal's chat side on a real store, talking to a fake
// Mattermost loaded with the captured world, served over HTTP.
type chatEnv struct {
	t       testing.TB
	fake    *mmfake.Server
	store   *models.Store
	svc     *approval.Service
	keys    *agents.Keys
	url     string
	botID   string
	windows *fakeWindows
	grants  *fakeGrants
}

type fakeWindows struct {
	mu     sync.Mutex
	closed []string
}

func (w *fakeWindows) Close(_ context.Context, name string, actor models.Actor) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if name == "nosuch" {
		return models.ErrNotFound
	}
	w.closed = append(w.closed, name+" by "+actor.Display)
	return nil
}

type fakeGrants struct{}

func (fakeGrants) Token(_ context.Context, id string) (string, error) { return "grant-for-" + id, nil }

// testPolicy: restart (anyone; service and env required; purpose needed)
// and scale (only sre may ask); every request needs 2 approvals.
func testPolicy(t testing.TB) *policy.Policy {
	p, err := policy.Build("test-policy", []*policy.Action{
		{Name: "restart", Description: "restart a service", PurposeRequired: true, Params: []policy.Param{
			{Name: "service", Required: true, Pattern: `[a-z0-9-]+`},
			{Name: "env", Required: true, Allowed: []string{"prod", "staging"}},
		}},
		{Name: "scale", Requesters: []string{"sre"}, Params: []policy.Param{{Name: "replicas", Type: policy.ParamInt, Required: true}}},
	}, policy.RequireForAll("everything", 2, "approver"), policy.WithWindow("db-maint", 4*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type envOptions struct {
	deadline  time.Duration
	bodyLimit int64
	// cacheTTL turns on the bot's lookup cache (as configured in
	// production, mattermost.cache_ttl); 0 leaves it off.
	cacheTTL time.Duration
	// sponsor is the registered agent's sponsor; empty means "admin".
	sponsor string
	// serverBodyLimit is the whole server's body limit (handlers.Options);
	// empty means its default.
	serverBodyLimit string
}

// newFakeChat starts a fake Mattermost with the fixtures loaded, its
// clock just before captureEnd, and the countersign bot in the fixture
// channel allowed to read other bots' posts; it returns the fake, the bot
// and the bot's client, whose retries are short for tests. config, when
// not nil, adds to the client's configuration.
func newFakeChat(t testing.TB, config func(*mattermost.Config)) (*mmfake.Server, *model.User, *mattermost.Client) {
	t.Helper()
	fake := mmfake.New(t)
	if err := fake.LoadFixtures(); err != nil {
		t.Fatal(err)
	}
	fake.SetClock(func() time.Time { return captureEnd.Add(-30 * time.Second) })
	bot := fake.AddBot("countersign", mmfake.AdminID)
	fake.AddMember(mmfake.ChannelID, bot.Id)
	fake.Grant(bot.Id, model.PermissionReadOthersBots.Id)
	cfg := mattermost.Config{
		SiteURL: fake.URL(), BotToken: fake.NewToken(bot.Id), CallTimeout: 2 * time.Second, MaxAttempts: 2,
		BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond, Now: func() time.Time { return captureEnd },
	}
	if config != nil {
		config(&cfg)
	}
	client, err := mattermost.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return fake, bot, client
}

// newAgentAuth registers list on s and returns the agents' keys and the
// agent API's authenticator over them.
func newAgentAuth(t testing.TB, s *models.Store, list ...agents.Agent) (*agents.Keys, *agentauth.Authenticator) {
	t.Helper()
	reg, err := agents.NewRegistry(list)
	if err != nil {
		t.Fatal(err)
	}
	keys := agents.NewKeys(s, reg, nil)
	auth, err := agentauth.New(context.Background(), agentauth.Config{Keys: keys, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	return keys, auth
}

func newChatEnv(t testing.TB, b storetest.Backend, o envOptions) *chatEnv {
	t.Helper()
	fake, bot, client := newFakeChat(t, func(c *mattermost.Config) {
		c.HTTPClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		c.CacheTTL = o.cacheTTL
	})
	s := b.Open(t)
	svc := approval.New(s, approval.Config{Policy: policy.NewHolder(testPolicy(t)), Effects: approval.Effects{Idempotency: agents.IdempotencyHook{}}})
	if o.sponsor == "" {
		o.sponsor = "admin"
	}
	keys, auth := newAgentAuth(t, s, agents.Agent{Name: "testbot", BotUserID: mmfake.TestbotID, Sponsor: o.sponsor})
	e := &chatEnv{t: t, fake: fake, store: s, svc: svc, keys: keys, botID: bot.Id, windows: &fakeWindows{}, grants: &fakeGrants{}}
	srv := httptest.NewUnstartedServer(nil)
	e.url = "http://" + srv.Listener.Addr().String()
	echoSrv, err := handlers.New(handlers.Options{
		Logger: slog.New(slog.DiscardHandler), DB: s, Registry: prometheus.NewRegistry(), PublicURL: e.url,
		BodyLimit: o.serverBodyLimit,
		Chat: &handlers.Chat{
			Client: client, Approvals: svc,
			Command: &handlers.MattermostCommandOptions{
				Tokens: []string{tokenOld, tokenNew}, Policy: policy.NewHolder(testPolicy(t)),
				Windows: e.windows, Deadline: o.deadline, BodyLimit: o.bodyLimit,
			},
			Agents: &handlers.AgentEndpoints{Auth: auth, Records: agents.Store{S: s}, Options: handlers.AgentAPIOptions{
				Grants: e.grants, BodyLimit: 64 << 10,
				PollInterval: 5 * time.Millisecond, CaptureDeadline: o.deadline,
			}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = echoSrv
	srv.Start()
	t.Cleanup(srv.Close)
	return e
}

// command sends a slash command as Mattermost does and decodes the reply.
func (e *chatEnv) command(token string, f mmfake.CommandFields) (int, *model.CommandResponse) {
	e.t.Helper()
	if f.Command == "" {
		f.Command = "/countersign"
	}
	if f.ChannelID == "" {
		f.TeamID, f.TeamDomain, f.ChannelID, f.ChannelName = mmfake.TeamID, "testteam", mmfake.ChannelID, "fixture-chan"
	}
	if f.UserID == "" {
		f.UserID, f.UserName = mmfake.AliceID, "alice"
	}
	resp, err := mmfake.SlashCommand(e.url+handlers.CommandPath, token, f)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, &model.CommandResponse{Text: string(body)}
	}
	var cr model.CommandResponse
	if err := json.Unmarshal(body, &cr); err != nil {
		e.t.Fatalf("reply is not a CommandResponse: %v: %s", err, body)
	}
	if cr.ResponseType != model.CommandResponseTypeEphemeral {
		e.t.Fatalf("reply is %q, want ephemeral", cr.ResponseType)
	}
	return resp.StatusCode, &cr
}

// say runs a command as alice with the new token and returns the text.
func (e *chatEnv) say(text string) *model.CommandResponse {
	e.t.Helper()
	code, cr := e.command(tokenNew, mmfake.CommandFields{Text: text})
	if code != http.StatusOK {
		e.t.Fatalf("%q: HTTP %d %s", text, code, cr.Text)
	}
	return cr
}

// count returns how many rows table holds.
func (e *chatEnv) count(table string) int64 {
	e.t.Helper()
	var n int64
	if err := e.store.DB(context.Background()).Table(table).Count(&n).Error; err != nil {
		e.t.Fatal(err)
	}
	return n
}

// wantCount fails the test unless table holds want rows; what says what
// the rows are ("requests stored by bad calls").
func (e *chatEnv) wantCount(table string, want int64, what string) {
	e.t.Helper()
	if n := e.count(table); n != want {
		e.t.Fatalf("%d %s, want %d", n, what, want)
	}
}

// proposal posts testbot's proposal in the thread and returns its post id.
func (e *chatEnv) proposal() string {
	return e.fake.Reply(mmfake.RootPostID, mmfake.TestbotID, "proposal").Id
}

// requestIDIn finds the request id a reply names.
func requestIDIn(t *testing.T, text string) string {
	t.Helper()
	i := strings.Index(text, "REQ-")
	if i < 0 || len(text) < i+14 {
		t.Fatalf("no request id in %q", text)
	}
	return text[i : i+14]
}
