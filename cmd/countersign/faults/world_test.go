//go:build faults

package faults

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/web/exampleexecutor"
	"github.com/countersign/countersign/web/mattermost/mmfake"
)

// world is the fake Mattermost the servers talk to: a team, an ops
// channel, people, Countersign's bot and one agent's bot.
type world struct {
	fake     *mmfake.Server
	team     *model.Team
	channel  *model.Channel
	botToken string
	// alice and carol request by slash command; dave sponsors the agent
	// (and may cancel its requests); bob approves (he is DMed).
	alice, carol, dave, bob *model.User
	agent                   *model.User
}

// Secrets of the test deployment (not secret: they live for one test).
const (
	commandToken  = "faults-command-token-0123456789"
	executorToken = "faults-executor-token-0123456789"
	agentName     = "deploy-bot"
	executorName  = "runner"
)

func newWorld(t testing.TB) *world {
	fake := mmfake.New(t)
	admin := fake.AddAdmin("sysadmin")
	w := &world{fake: fake}
	w.team = fake.NewTeam("acme")
	w.alice, w.carol = fake.AddHuman("alice"), fake.AddHuman("carol")
	w.dave, w.bob = fake.AddHuman("dave"), fake.AddHuman("bob")
	bot := fake.AddBot("countersign", admin.Id)
	fake.Grant(bot.Id, model.PermissionReadOthersBots.Id)
	w.agent = fake.AddBot(agentName, w.dave.Id)
	w.channel = fake.NewChannel(w.team.Id, "ops", model.ChannelTypeOpen,
		bot.Id, w.agent.Id, w.alice.Id, w.carol.Id, w.dave.Id, w.bob.Id)
	w.botToken = fake.NewToken(bot.Id)
	return w
}

// policyYAML: "restart" is for people and runs through the executor;
// "rotate" is for the agent, which redeems its own grant. Staging is
// approved at once with a 10 s grant (so unredeemed grants expire under
// load and the sweeper moves their requests); prod waits for an SRE.
const policyYAML = `version: 1
roles:
  sre: {idp_groups: [sre], mattermost_users: [bob]}
  dev: {idp_groups: [dev], mattermost_users: [alice, carol]}
actions:
  - name: restart
    description: Restart a service
    executor: runner
    purpose_required: true
    requesters: [dev, sre]
    params:
      - {name: service, required: true, pattern: '[a-z0-9-]+'}
      - {name: env, allowed: [staging, prod], required: true}
  - name: rotate
    description: Rotate a secret
    purpose_required: true
    params:
      - {name: secret, required: true, pattern: '[a-z0-9-]+'}
      - {name: env, allowed: [staging, prod], required: true}
rules:
  - name: staging-auto
    when: request.params.env == "staging"
    auto_approve: {grant_ttl: 10s}
  - name: prod-needs-sre
    when: request.params.env == "prod"
    require: {approvals: 1, roles: [sre], ttl: 1h, grant_ttl: 10s}
`

// deployment is one Countersign installation under test: its database,
// its replicas (OS processes sharing data_dir and database), the agent's
// API key and the executor.
type deployment struct {
	t         testing.TB
	w         *world
	dir       string
	dsn       string
	publicURL string
	procs     []*proc
	apiKey    string
	executor  *exampleexecutor.Executor
}

// deploy writes the policy and one configuration per replica, creates the
// agent's API key with `countersign agent key create`, and starts the
// replicas one after another (the first creates the keys in data_dir that
// the others then share). dsn empty means SQLite in data_dir.
func deploy(t testing.TB, w *world, dsn string, replicas int) *deployment {
	t.Helper()
	dir := t.TempDir()
	ports := make([]int, replicas)
	for i := range ports {
		ports[i] = freePort(t)
	}
	d := &deployment{t: t, w: w, dir: dir, dsn: dsn, publicURL: fmt.Sprintf("http://127.0.0.1:%d", ports[0])}
	if d.dsn == "" {
		d.dsn = "sqlite:" + filepath.Join(dir, "countersign.db")
	}
	var err error
	d.executor, err = exampleexecutor.New(exampleexecutor.Config{Name: executorName, Issuer: d.publicURL, Token: executorToken})
	if err != nil {
		t.Fatal(err)
	}
	execSrv := httptest.NewServer(d.executor)
	t.Cleanup(execSrv.Close)
	policyPath := filepath.Join(dir, "policy.yaml")
	writeFile(t, policyPath, policyYAML)
	for i, port := range ports {
		cfg := fmt.Sprintf(`listen: "127.0.0.1:%d"
public_url: %q
data_dir: %q
database: %q
log: {level: info}
http: {shutdown_timeout: 10s}
audit: {checkpoint_interval: 15s}
mattermost:
  site_url: %q
  bot_token: %q
  command_tokens: [%q]
policy: {file: %q, reload_interval: 5s}
agents:
  - {name: %s, bot_user_id: %s, sponsor: dave}
executors:
  %s: {url: %q, token: %q, timeout: 5s, max_attempts: 5}
`, port, d.publicURL, dir, d.dsn, w.fake.URL(), w.botToken, commandToken, policyPath,
			agentName, w.agent.Id, executorName, execSrv.URL+"/run", executorToken)
		path := filepath.Join(dir, fmt.Sprintf("countersign-%d.yaml", i))
		writeFile(t, path, cfg)
		d.procs = append(d.procs, newProc(t, fmt.Sprintf("replica %d", i), path, fmt.Sprintf("http://127.0.0.1:%d", port), filepath.Join(dir, fmt.Sprintf("serve-%d.log", i))))
	}
	code, out, errOut := runCLI(t, "agent", "key", "create", agentName, "--config", d.procs[0].config)
	if code != 0 || !strings.HasPrefix(out, "cs_") {
		t.Fatalf("agent key create: exit %d, %q %q", code, out, errOut)
	}
	d.apiKey = strings.TrimSpace(out)
	for _, p := range d.procs {
		if err := p.start(); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// stopAll stops every replica gracefully and reports a non-zero exit.
func (d *deployment) stopAll() {
	for _, p := range d.procs {
		code, err := p.stop()
		if err != nil || code != 0 {
			d.t.Errorf("%s: graceful stop: exit %d, %v\n%s", p.name, code, err, p.logTail(15))
		}
	}
}

// auditVerify runs `countersign audit verify` on the deployment's database.
func (d *deployment) auditVerify() (ok bool, out string) {
	code, stdout, stderr := runCLI(d.t, "audit", "verify", "--db", d.dsn)
	return code == 0 && strings.HasPrefix(stdout, "ok "), strings.TrimSpace(stdout + stderr)
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
