package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/mattermost/mattermost/server/public/model"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/demoidp"
	"github.com/countersign/countersign/web/demoidp/demoidptest"
	"github.com/countersign/countersign/web/mattermost/mmreal"
	"github.com/countersign/countersign/web/mcpexample"
)

// realEnv is Countersign served in process (the serve command, with its
// configuration file) in front of the real Mattermost: the slash command
// and the buttons are called by Mattermost over loopback, the bot posts
// with the token Mattermost issued, and people sign in to the portal at a
// demo identity provider under their Mattermost usernames.
//
// The cast: alice and carol (dev) request; bob and erin (sre) approve and
// are DMed; dave has no role.
type realEnv struct {
	t     *testing.T
	w     *mmreal.World
	base  string
	cmd   *model.Command
	idp   string
	users map[string]demoidp.User
	log   *storetest.SyncBuffer
	// config is the serve command's configuration file.
	config string
	// proxy stands between Countersign and Mattermost (realOptions.proxy).
	proxy *cutProxy
	// agent is the agent's bot (realOptions.agent), registered as
	// "deploy-agent" with carol as its sponsor.
	agent *mmreal.Bot
	// ops is the example MCP server behind the gateway (realOptions.mcp).
	ops *mcpexample.Ops
}

// realOptions vary the environment.
type realOptions struct {
	// proxy sends Countersign's calls to Mattermost (REST and WebSocket)
	// through a proxy the test can cut, for outages.
	proxy bool
	// agent registers an agent bot.
	agent bool
	// mcp puts the MCP gateway in front of an example ops server (the
	// restart action is its restart_service tool; calls are held 2 s and
	// proposed in the world's channel). It needs agent.
	mcp bool
}

// realPolicy: restarts need one SRE approval; migrations two; the prod
// change window is opened by an SRE approval too.
const realPolicy = `version: 1
roles:
  sre: {idp_groups: [sre], mattermost_users: [%[1]s, %[4]s]}
  dev: {idp_groups: [dev], mattermost_users: [%[2]s, %[3]s]}
  agent: {}
windows:
  - {name: prod, max_duration: 4h}
actions:
  - name: restart
    description: Restart a service
    purpose_required: true
    requesters: [dev, sre, agent]
    params:
      - {name: service, required: true, pattern: '[a-z0-9-]+'}
      - {name: env, allowed: [staging, prod], required: true}
  - name: migrate
    description: Run a database migration
    purpose_required: true
    requesters: [dev]
    params:
      - {name: db, required: true, pattern: '[a-z0-9-]+'}
rules:
  - name: window-open
    when: request.action == "window.open"
    require: {approvals: 1, roles: [sre]}
  - name: migrations
    when: request.action == "migrate"
    require: {approvals: 2, roles: [sre]}
  - name: restarts
    when: "true"
    require: {approvals: 1, roles: [sre]}
`

func newRealEnv(t *testing.T) *realEnv { t.Helper(); return newRealEnvWith(t, realOptions{}) }

func newRealEnvWith(t *testing.T, opts realOptions) *realEnv {
	t.Helper()
	srv := mmreal.Shared(t)
	w := srv.NewWorld(t, "alice", "bob", "carol", "dave", "erin")
	port, err := mmreal.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	e := &realEnv{t: t, w: w, base: base, users: map[string]demoidp.User{}}
	e.cmd = w.CreateCommand("countersign", base+"/hooks/mattermost/command")

	// The demo identity provider, with the Mattermost usernames.
	idpSrv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(idpSrv.Close)
	e.idp = idpSrv.URL + "/idp"
	groups := map[string][]string{"alice": {"dev"}, "bob": {"sre"}, "carol": {"dev"}, "dave": nil, "erin": {"sre"}}
	var list []demoidp.User
	for name, g := range groups {
		u, err := demoidp.User{Username: w.Name(name), DisplayName: name, Email: w.Name(name) + "@example.com", Groups: g}.WithRandomCredentials()
		if err != nil {
			t.Fatal(err)
		}
		e.users[name] = u
		list = append(list, u)
	}
	provider, err := demoidp.New(demoidp.Config{
		Issuer:  e.idp,
		Clients: []demoidp.Client{{ID: "portal", Secret: "portal-secret-0123456789", RedirectURIs: []string{base + "/auth/callback"}}},
		Users:   list, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	idpSrv.Config.Handler = provider

	site, agents := w.Server.URL, ""
	if opts.proxy {
		e.proxy = newCutProxy(t, strings.TrimPrefix(w.Server.URL, "http://"))
		site = "http://" + e.proxy.addr
	}
	if opts.agent {
		e.agent = w.NewBot("deploy-agent")
		agents = fmt.Sprintf("agents:\n  - {name: deploy-agent, bot_user_id: %s, sponsor: %s, roles: [agent]}\n", e.agent.User.Id, w.Name("carol"))
	}
	policyText := fmt.Sprintf(realPolicy, w.Name("bob"), w.Name("alice"), w.Name("carol"), w.Name("erin"))
	if opts.mcp {
		e.ops = mcpexample.New()
		h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return e.ops.Server() }, nil)
		opsSrv := httptest.NewServer(h)
		t.Cleanup(opsSrv.Close)
		agents += fmt.Sprintf("mcp:\n  hold: 2s\n  channel_id: %s\n  upstreams:\n    - {name: ops, url: %s}\n", w.Channel.Id, opsSrv.URL)
		policyText = strings.Replace(policyText, "    description: Restart a service\n", "    description: Restart a service\n    mcp_tool: ops/restart_service\n", 1)
	}
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte(policyText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, fmt.Sprintf(`listen: 127.0.0.1:%d
public_url: %s
data_dir: %s
database: sqlite:%s/cs.db
log: {level: info}
oidc:
  issuer: %s
  client_id: portal
  client_secret: portal-secret-0123456789
  role_map: {sre: [approver]}
step_up: {password_only: true}
mattermost:
  site_url: %s
  bot_token: %s
  command_tokens: [%s]
policy: {file: %s}
`, port, base, dir, dir, e.idp, site, w.Bot.Token, e.cmd.Token, policy)+agents)
	e.config = cfg
	got, _, logs, stop := startServerLogs(t, nil, "serve", "--config", cfg)
	if got != base {
		t.Fatalf("portal listens on %s, want %s", got, base)
	}
	e.log = logs
	t.Cleanup(func() {
		if code := stop(); code != exitOK {
			t.Errorf("serve exit %d", code)
		}
		if t.Failed() {
			t.Logf("portal log:\n%s", logs.String())
		}
	})
	return e
}

// person is a Mattermost user of the world by short name.
func (e *realEnv) person(name string) *mmreal.User { return e.w.Person(name) }

// slash runs /countersign text as name in channelID (rootID: the thread
// it is typed in) through Mattermost and returns the reply name sees.
func (e *realEnv) slash(name, channelID, text, rootID string) string {
	e.t.Helper()
	resp, err := e.w.ExecuteCommand(e.person(name), channelID, "/countersign "+text, rootID)
	if err != nil {
		e.t.Fatalf("/countersign %s: %v\nportal log:\n%s", text, err, e.log.String())
	}
	return resp.Text
}

var requestIDPattern = regexp.MustCompile(`REQ-[0-9A-Z]{10}`)

// created returns the id of the request a reply says was created.
func (e *realEnv) created(reply string) string {
	e.t.Helper()
	id := requestIDPattern.FindString(reply)
	if id == "" || !strings.Contains(reply, e.base+"/requests/"+id) {
		e.t.Fatalf("no request created: %q", reply)
	}
	return id
}

// requestMessage waits for the bot's message about id in channelID.
func (e *realEnv) requestMessage(channelID, id string, match func(*model.Post) bool) *model.Post {
	e.t.Helper()
	return e.w.WaitForPost(channelID, 0, 15*time.Second, func(p *model.Post) bool {
		return p.UserId == e.w.Bot.User.Id && strings.Contains(p.Message, "Countersign request "+id) && (match == nil || match(p))
	})
}

// visitor is a person's browser session in the portal.
type visitor struct {
	e *realEnv
	b *demoidptest.Browser
}

// signIn signs name in to the portal at the demo identity provider.
func (e *realEnv) signIn(name string) *visitor {
	e.t.Helper()
	b, err := demoidptest.NewBrowser(e.idp)
	if err != nil {
		e.t.Fatal(err)
	}
	v := &visitor{e: e, b: b}
	status, loc, _ := v.do(http.MethodGet, "/login", nil)
	if status != http.StatusSeeOther {
		e.t.Fatalf("/login: %d", status)
	}
	u := e.users[name]
	cb, err := b.Login(context.Background(), loc, demoidptest.Credentials{Username: u.Username, Password: u.Password, SkipTOTP: true})
	if err != nil {
		e.t.Fatalf("sign in %s: %v", name, err)
	}
	if status, loc, body := v.do(http.MethodGet, cb.String(), nil); status != http.StatusSeeOther {
		e.t.Fatalf("callback: %d %s %s", status, loc, body)
	}
	return v
}

// do sends one request with the visitor's cookies and no redirects.
func (v *visitor) do(method, pathOrURL string, form url.Values) (int, string, string) {
	v.e.t.Helper()
	target := pathOrURL
	if strings.HasPrefix(target, "/") {
		target = v.e.base + target
	}
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		v.e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := v.b.Client().Do(req)
	if err != nil {
		v.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		v.e.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// page opens a portal page that must answer 200.
func (v *visitor) page(path string) *goquery.Document {
	v.e.t.Helper()
	status, loc, body := v.do(http.MethodGet, path, nil)
	if status != http.StatusOK {
		v.e.t.Fatalf("GET %s: %d %s", path, status, loc)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		v.e.t.Fatal(err)
	}
	return doc
}

// decide submits the approve or deny form of request id as shown on its
// page, and returns the status, the redirect and the body.
func (v *visitor) decide(id, verdict, comment string) (int, string, string) {
	v.e.t.Helper()
	doc := v.page("/requests/" + id)
	f := doc.Find(`[data-testid="` + verdict + `-form"]`)
	if f.Length() == 0 {
		v.e.t.Fatalf("no %s form on %s", verdict, id)
	}
	form := url.Values{"comment": {comment}}
	f.Find("input[type=hidden]").Each(func(_ int, s *goquery.Selection) {
		form.Set(s.AttrOr("name", ""), s.AttrOr("value", ""))
	})
	return v.do(http.MethodPost, f.AttrOr("action", ""), form)
}

// testids collects the text of every element with a data-testid in sel.
func testids(sel *goquery.Selection, id string) []string {
	var out []string
	sel.Find(`[data-testid="` + id + `"]`).Each(func(_ int, s *goquery.Selection) { out = append(out, strings.TrimSpace(s.Text())) })
	return out
}

// formWith is the form testid of doc with its hidden fields and comment.
func formWith(doc *goquery.Document, testid, comment string) url.Values {
	form := url.Values{"comment": {comment}}
	doc.Find(`[data-testid="` + testid + `"] input[type=hidden]`).Each(func(_ int, s *goquery.Selection) {
		form.Set(s.AttrOr("name", ""), s.AttrOr("value", ""))
	})
	return form
}

// snippetOf shortens a body for a failure message.
func snippetOf(body string) string {
	if len(body) > 600 {
		return body[:600] + "…"
	}
	return body
}
