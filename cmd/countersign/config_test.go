package main

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// writeFile writes body to a fresh file and returns its path.
func writeFile(t *testing.T, body string) string {
	t.Helper()
	return writePolicyFile(t, t.TempDir(), "countersign.yaml", body)
}

func TestLoadConfigFileAndEnvironment(t *testing.T) {
	p := writeFile(t, `
listen: "0.0.0.0:9000"
public_url: https://countersign.example.com
database: postgres://cs@db.internal/cs
http:
  body_limit: 512K
  shutdown_timeout: 20s
requests:
  default_ttl: 2h
`)
	cfg, err := LoadConfig(p, []string{
		"COUNTERSIGN_MATTERMOST_OUTBOX_MAX_ATTEMPTS=2",
		"COUNTERSIGN_LOG_LEVEL=debug",
		"COUNTERSIGN_HTTP_BEHIND_TLS_PROXY=true",
		"COUNTERSIGN_TEST_POSTGRES=ignored",
		"PATH=/usr/bin",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "0.0.0.0:9000" || cfg.HTTP.BodyLimit != "512K" || cfg.HTTP.ShutdownTimeout.D() != 20*time.Second ||
		cfg.Request.DefaultTTL.D() != 2*time.Hour || cfg.Mattermost.Messages.OutboxMaxAttempts != 2 || cfg.Log.Level != "debug" ||
		!cfg.HTTP.BehindTLSProxy || !cfg.TLS() || cfg.Database != "postgres://cs@db.internal/cs" {
		t.Fatalf("loaded %+v", cfg)
	}
	// The environment wins over the file.
	cfg, err = LoadConfig(p, []string{"COUNTERSIGN_LISTEN=127.0.0.1:7000", "COUNTERSIGN_REQUESTS_DEFAULT_TTL=90m"})
	if err != nil || cfg.Listen != "127.0.0.1:7000" || cfg.Request.DefaultTTL.D() != 90*time.Minute {
		t.Fatalf("env override: %+v %v", cfg, err)
	}
}

func TestDefaultDatabaseFollowsDataDir(t *testing.T) {
	cfg, err := LoadConfig("", []string{"COUNTERSIGN_DATA_DIR=/var/lib/cs/"})
	if err != nil || cfg.Database != "sqlite:/var/lib/cs/countersign.db" || cfg.TLS() {
		t.Fatalf("%+v %v", cfg, err)
	}
}

func TestLoadConfigErrorsNameTheProblem(t *testing.T) {
	cases := []struct {
		name, file string
		env        []string
		want       string
	}{
		{"unknown key", "listen: 127.0.0.1:1\ndatabse: x\n", nil, ":2:"},
		{"unknown nested key", "http:\n  body_limt: 1M\n", nil, "body_limt"},
		{"bad yaml", "listen: [unclosed\n", nil, "countersign.yaml:"},
		{"bad duration", "requests:\n  default_ttl: soon\n", nil, "not a duration"},
		{"bad listen", "listen: nowhere\n", nil, "listen"},
		{"bad public url", "public_url: ftp://x\n", nil, "public_url"},
		{"bad dsn", "database: mysql://root@db/x\n", nil, "unsupported scheme"},
		{"bad level", "log:\n  level: loud\n", nil, "log.level (COUNTERSIGN_LOG_LEVEL)"},
		{"bad body limit", "http:\n  body_limit: lots\n", nil, "body_limit"},
		{"half tls", "http:\n  tls_cert: /x.pem\n", nil, "set together"},
		{"bad attempts", "mattermost:\n  outbox_max_attempts: -1\n", nil, "mattermost.outbox_max_attempts (COUNTERSIGN_MATTERMOST_OUTBOX_MAX_ATTEMPTS)"},
		{"bad seal key", "grants:\n  seal_key: abcd\n", nil, "grants.seal_key (COUNTERSIGN_GRANTS_SEAL_KEY) must be 32 bytes of hex"},
		{"removed key", "requests:\n  required_approvals: 2\n", nil, "unknown field"},
		{"unknown env", "", []string{"COUNTERSIGN_DATABSE=x"}, "unknown environment variable COUNTERSIGN_DATABSE"},
		{"bad env bool", "", []string{"COUNTERSIGN_HTTP_BEHIND_TLS_PROXY=maybe"}, "not true or false"},
		{"bad env int", "", []string{"COUNTERSIGN_MATTERMOST_OUTBOX_MAX_ATTEMPTS=two"}, "not a whole number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadConfig(writeFile(t, c.file), c.env)
			var ce *configError
			if !errors.As(err, &ce) {
				t.Fatalf("want a configError, got %v", err)
			}
			if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: want one line containing %q", err, c.want)
			}
		})
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.yaml"), nil); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestEnvNamesCoverEveryKey(t *testing.T) {
	names := strings.Join(EnvNames(), " ")
	for _, want := range []string{"COUNTERSIGN_LISTEN", "COUNTERSIGN_DATABASE", "COUNTERSIGN_HTTP_BODY_LIMIT", "COUNTERSIGN_REQUESTS_DEFAULT_TTL", "COUNTERSIGN_LOG_LEVEL"} {
		if !strings.Contains(names, want) {
			t.Errorf("EnvNames lacks %s: %s", want, names)
		}
	}
}

// TestExampleConfigLoads keeps the documented example valid.
func TestExampleConfigLoads(t *testing.T) {
	cfg, err := LoadConfig("../../docs/countersign.example.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database != "sqlite:/var/lib/countersign/countersign.db" || cfg.HTTP.BodyLimit != "1M" {
		t.Fatalf("example loads as %+v", cfg)
	}
}

func TestOIDCConfigFromFileAndEnvironment(t *testing.T) {
	p := writeFile(t, `
oidc:
  issuer: https://idp.example.com/realms/ops
  client_id: countersign
  role_map:
    sre: [approver]
    audit: [auditor]
step_up:
  max_age: 2m
  acr_values: [urn:example:mfa]
`)
	cfg, err := LoadConfig(p, []string{
		"COUNTERSIGN_OIDC_CLIENT_SECRET=s3cret",
		"COUNTERSIGN_STEP_UP_AMR_ANY=mfa, otp ,hwk",
		"COUNTERSIGN_OIDC_ROLE_MAP=sre=approver;security=approver admin",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OIDC.ClientSecret != "s3cret" || strings.Join(cfg.StepUp.AMRAny, ",") != "mfa,otp,hwk" ||
		strings.Join(cfg.OIDC.RoleMap["security"], ",") != "approver,admin" || len(cfg.OIDC.RoleMap) != 2 ||
		cfg.StepUp.MaxAge.D() != 2*time.Minute || cfg.OIDC.RolesClaim != "groups" {
		t.Fatalf("%+v", cfg)
	}
	for name, c := range map[string]struct{ file, want string }{
		"no client":    {"oidc:\n  issuer: https://idp\n  client_secret: s\n  role_map: {a: [approver]}\n", "oidc.client_id (COUNTERSIGN_OIDC_CLIENT_ID)"},
		"no secret":    {"oidc:\n  issuer: https://idp\n  client_id: c\n  role_map: {a: [approver]}\n", "oidc.client_secret (COUNTERSIGN_OIDC_CLIENT_SECRET) is required"},
		"no role map":  {"oidc:\n  issuer: https://idp\n  client_id: c\n  client_secret: s\n", "oidc.role_map (COUNTERSIGN_OIDC_ROLE_MAP)"},
		"unknown role": {"oidc:\n  issuer: https://idp\n  client_id: c\n  client_secret: s\n  role_map: {a: [boss]}\n", "unknown role"},
		"no strength": {"oidc:\n  issuer: https://idp\n  client_id: c\n  client_secret: s\n  role_map: {a: [approver]}\n",
			"step_up.password_only (COUNTERSIGN_STEP_UP_PASSWORD_ONLY): true"},
		"strength and password only": {"oidc:\n  issuer: https://idp\n  client_id: c\n  client_secret: s\n  role_map: {a: [approver]}\nstep_up:\n  amr_any: [otp]\n  password_only: true\n",
			"contradicts"},
		"essential without values": {"oidc:\n  issuer: https://idp\n  client_id: c\n  client_secret: s\n  role_map: {a: [approver]}\nstep_up:\n  amr_any: [otp]\n  essential_acr: true\n",
			"step_up.essential_acr (COUNTERSIGN_STEP_UP_ESSENTIAL_ACR) needs step_up.acr_values"},
		"max age": {"step_up:\n  max_age: 5s\n", "step_up.max_age (COUNTERSIGN_STEP_UP_MAX_AGE)"},
		"idle":    {"session:\n  idle_timeout: 13h\n", "idle_timeout"},
		"mm url":  {"mattermost:\n  site_url: chat\n", "site_url"},
	} {
		if _, err := LoadConfig(writeFile(t, c.file), nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %s", name, err, c.want)
		}
	}
	// Password re-entry is accepted when said in so many words.
	if cfg, err := LoadConfig(writeFile(t, "oidc:\n  issuer: https://idp\n  client_id: c\n  client_secret: s\n  role_map: {a: [approver]}\n"),
		[]string{"COUNTERSIGN_STEP_UP_PASSWORD_ONLY=true"}); err != nil || !cfg.StepUp.PasswordOnly {
		t.Errorf("password-only step-up: %v", err)
	}
	if _, err := LoadConfig("", []string{"COUNTERSIGN_OIDC_ROLE_MAP=noequals"}); err == nil {
		t.Error("malformed role map accepted")
	}
}

// exampleKey matches a YAML line of a commented-out example section.
var exampleKey = regexp.MustCompile(`^(\s+\S|[a-z_]+:)`)

// TestExampleSignInSectionLoads keeps the example's commented sign-in
// sections valid: uncommented, they load (with the secret from the
// environment, as the example says to give it).
func TestExampleSignInSectionLoads(t *testing.T) {
	raw, err := os.ReadFile("../../docs/countersign.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var block []string
	in := false
	for _, line := range strings.Split(string(raw), "\n") {
		if line == "# oidc:" {
			in = true
		}
		if !in {
			continue
		}
		if !strings.HasPrefix(line, "#") {
			break
		}
		// Keys and their indented values are uncommented; prose stays a comment.
		text := strings.TrimPrefix(strings.TrimPrefix(line, "#"), " ")
		if !exampleKey.MatchString(text) {
			text = "# " + text
		}
		block = append(block, text)
	}
	if len(block) < 20 {
		t.Fatalf("the example's sign-in section is missing or short: %d lines", len(block))
	}
	cfg, err := LoadConfig(writeFile(t, strings.Join(block, "\n")), []string{"COUNTERSIGN_OIDC_CLIENT_SECRET=s3cret"})
	if err != nil {
		t.Fatalf("uncommented sign-in section: %v\n%s", err, strings.Join(block, "\n"))
	}
	if cfg.OIDC.Issuer == "" || len(cfg.OIDC.RoleMap) == 0 || len(cfg.StepUp.ACRValues) == 0 || cfg.Session.IdleTimeout.D() == 0 {
		t.Fatalf("loaded %+v", cfg)
	}
}

// TestConfigErrorsNameTheEnvironmentVariable: the first key a message
// names gets its variable, map entries name their map's, and a message
// that names one already is left alone.
func TestConfigErrorsNameTheEnvironmentVariable(t *testing.T) {
	for msg, want := range map[string]string{
		"config: http.body_limit: bad":                    "config: http.body_limit (COUNTERSIGN_HTTP_BODY_LIMIT): bad",
		"config: oidc.role_map.sre: unknown role":         "config: oidc.role_map.sre (COUNTERSIGN_OIDC_ROLE_MAP): unknown role",
		"config: step_up.max_age (COUNTERSIGN_X) must be": "config: step_up.max_age (COUNTERSIGN_X) must be",
		"config: no.such.key here":                        "config: no.such.key here",
		"config: a and b; http.tls_cert and http.tls_key": "config: a and b; http.tls_cert (COUNTERSIGN_HTTP_TLS_CERT) and http.tls_key",
	} {
		if got := withEnvName(msg); got != want {
			t.Errorf("withEnvName(%q) = %q, want %q", msg, got, want)
		}
	}
}
