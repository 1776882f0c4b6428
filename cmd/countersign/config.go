package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/token"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/safeyaml"
)

// Config is everything `countersign serve` is told, from a YAML file with
// every key overridable by a COUNTERSIGN_* environment variable (nested keys
// joined by "_": http.body_limit → COUNTERSIGN_HTTP_BODY_LIMIT). It is
// loaded and validated once at start and passed down; nothing reads it
// from anywhere else.
type Config struct {
	// Listen is the host:port the portal listens on.
	Listen string `yaml:"listen"`
	// PublicURL is the address people and Mattermost reach the portal at;
	// links in chat and OIDC redirects are built from it.
	PublicURL string `yaml:"public_url"`
	// Database is "sqlite:PATH" (embedded default) or a postgres:// URL.
	Database string `yaml:"database"`
	// DataDir holds the SQLite database and generated keys.
	DataDir string        `yaml:"data_dir"`
	Log     LogConfig     `yaml:"log"`
	HTTP    HTTPConfig    `yaml:"http"`
	Request RequestConfig `yaml:"requests"`
	// OIDC configures login; without an issuer the portal serves only its
	// public pages.
	OIDC      OIDCConfig      `yaml:"oidc"`
	Session   SessionConfig   `yaml:"session"`
	StepUp    StepUpConfig    `yaml:"step_up"`
	Approvals ApprovalsConfig `yaml:"approvals"`
	// Mattermost holds what links into chat need (more comes with the
	// Mattermost integration).
	Mattermost MattermostConfig `yaml:"mattermost"`
	Audit      AuditConfig      `yaml:"audit"`
	// Executors run approved actions (see config_executors.go).
	Executors ExecutorsConfig `yaml:"executors"`
	// Grants configures the grant signing keys (see config_grants.go).
	Grants GrantsConfig `yaml:"grants"`
	// Agents are the registered agents; AgentAPI how they authenticate.
	Agents   AgentList      `yaml:"agents"`
	AgentAPI AgentAPIConfig `yaml:"agent_api"`
	Policy   PolicyConfig   `yaml:"policy"`
	// MCP is the MCP gateway (see config_mcp.go).
	MCP MCPConfig `yaml:"mcp"`
}

// AuditConfig controls the signed checkpoints of the audit log.
type AuditConfig struct {
	// CheckpointInterval is how often the log head is signed (when it moved).
	CheckpointInterval Duration `yaml:"checkpoint_interval"`
	// CheckpointKey is the private signing key ("PRIVATE+KEY+…"); replicas
	// on different hosts must share it. Empty: a key is created in data_dir
	// at first start.
	CheckpointKey string `yaml:"checkpoint_key"`
}

// OIDCConfig is the relying party's registration at the company IdP.
type OIDCConfig struct {
	Issuer       string `yaml:"issuer"`
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	// Scopes beyond openid (default: profile email).
	Scopes []string `yaml:"scopes"`
	// RolesClaim names the claim holding the person's groups (a dotted
	// path such as realm_access.roles works too).
	RolesClaim string `yaml:"roles_claim"`
	// UsernameClaim names the claim matched against Mattermost usernames.
	UsernameClaim string `yaml:"username_claim"`
	// RoleMap maps IdP groups to Countersign roles (approver, auditor, admin).
	RoleMap map[string][]string `yaml:"role_map"`
}

// SessionConfig bounds browser sessions.
type SessionConfig struct {
	IdleTimeout     Duration `yaml:"idle_timeout"`
	AbsoluteTimeout Duration `yaml:"absolute_timeout"`
}

// StepUpConfig says how fresh and strong a decider's authentication must be.
type StepUpConfig struct {
	// MaxAge is how old auth_time may be when a decision is made.
	MaxAge Duration `yaml:"max_age"`
	// ACRValues, when set, lists the acr values that are strong enough; the
	// IdP is asked for them (acr_values) at step-up.
	ACRValues []string `yaml:"acr_values"`
	// EssentialACR also asks for acr as an essential claim (claims parameter).
	EssentialACR bool `yaml:"essential_acr"`
	// AMRAny, when set, requires at least one of these amr values; the IdP
	// is asked for amr through the claims parameter.
	AMRAny []string `yaml:"amr_any"`
	// AtSignIn asks for this strength at sign-in already, so a fresh
	// strong sign-in counts for the first decision.
	AtSignIn bool `yaml:"at_sign_in"`
	// PasswordOnly accepts a step-up that is a password re-entry (no acr,
	// no amr asked for). It must be said explicitly; every decision made
	// so then says "strength: password re-entry only".
	PasswordOnly bool `yaml:"password_only"`
}

// ApprovalsConfig holds decision rules until policy decides them.
type ApprovalsConfig struct {
	// ApproverRoles may decide requests.
	ApproverRoles []string `yaml:"approver_roles"`
	// SponsorMayApprove lets an agent's sponsor approve the agent's requests.
	SponsorMayApprove bool `yaml:"sponsor_may_approve"`
}

// MattermostConfig locates the Mattermost server for deep links.
type MattermostConfig struct {
	// SiteURL is Mattermost's address, e.g. https://chat.example.com.
	SiteURL string `yaml:"site_url"`
	// Messages configures the bot's messages back into chat (see
	// config_mattermost_messages.go).
	Messages MattermostMessagesConfig `yaml:",inline"`
	// CommandTokens are the slash command's tokens (several while rotating).
	CommandTokens []string `yaml:"command_tokens"`
	// CacheTTL is how long the bot reuses accounts, bot records, channels
	// and teams it looked up (0: off; see config_mattermost_cache.go).
	CacheTTL Duration `yaml:"cache_ttl"`
	// WebSocket is the bot's live connection (mentions, edits; see
	// config_mattermost_websocket.go).
	WebSocket MattermostWebSocketConfig `yaml:"websocket"`
}

// LogConfig selects the log level.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
}

// HTTPConfig tunes the web server.
type HTTPConfig struct {
	// BodyLimit caps request bodies, e.g. "1M".
	BodyLimit string `yaml:"body_limit"`
	// TLSCert and TLSKey make the portal serve HTTPS itself.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// BehindTLSProxy says a TLS-terminating proxy fronts the portal, so
	// HSTS is sent although the portal itself speaks HTTP.
	BehindTLSProxy bool `yaml:"behind_tls_proxy"`
	// ShutdownTimeout bounds the graceful shutdown.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
}

// RequestConfig holds request defaults until policy decides them.
type RequestConfig struct {
	// DefaultTTL is how long a pending request waits for decisions.
	DefaultTTL Duration `yaml:"default_ttl"`
	// ResultTimeout is how long an approved request whose grant was
	// redeemed waits for its result before it ends failed (default 1h;
	// see config_result_timeout.go).
	ResultTimeout Duration `yaml:"result_timeout"`
}

// Duration is a time.Duration written like "90s" or "1h30m".
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (use e.g. 30s, 5m, 1h)", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration in Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// DefaultConfig is what an empty file means.
func DefaultConfig() Config {
	return Config{
		Listen:    "127.0.0.1:8080",
		PublicURL: "http://127.0.0.1:8080",
		DataDir:   "./data",
		Log:       LogConfig{Level: "info"},
		HTTP:      HTTPConfig{BodyLimit: "1M", ShutdownTimeout: Duration(10 * time.Second)},
		Request:   RequestConfig{DefaultTTL: Duration(time.Hour), ResultTimeout: Duration(time.Hour)},
		OIDC:      OIDCConfig{Scopes: []string{"profile", "email"}, RolesClaim: "groups", UsernameClaim: "preferred_username"},
		Session:   SessionConfig{IdleTimeout: Duration(30 * time.Minute), AbsoluteTimeout: Duration(12 * time.Hour)},
		StepUp:    StepUpConfig{MaxAge: Duration(5 * time.Minute)},
		Approvals: ApprovalsConfig{ApproverRoles: []string{"approver"}},
		Audit:     AuditConfig{CheckpointInterval: Duration(10 * time.Minute)},

		Mattermost: MattermostConfig{CacheTTL: Duration(defaultMattermostCacheTTL), Messages: defaultMattermostOutbox()},
	}
}

// configError is a problem with the configuration: exit status 2.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// configErrorf formats a configuration problem. The first configuration
// key the message names gets its environment variable added, so whoever
// reads it knows both places the value may come from:
// "config: http.body_limit (COUNTERSIGN_HTTP_BODY_LIMIT): …".
func configErrorf(format string, a ...any) error {
	return &configError{msg: withEnvName(fmt.Sprintf(format, a...))}
}

// keyToken finds dotted configuration key paths in a message.
var keyToken = regexp.MustCompile(`[a-z][a-z_]*(?:\.[a-z][a-z_]*)+`)

// withEnvName adds the environment variable after the first known key in
// msg, unless the message already names one there.
func withEnvName(msg string) string {
	known := configKeys()
	for _, loc := range keyToken.FindAllStringIndex(msg, -1) {
		key := msg[loc[0]:loc[1]]
		// A map entry (oidc.role_map.sre) names its map's key.
		for !known[key] && strings.Contains(key, ".") {
			key = key[:strings.LastIndex(key, ".")]
		}
		if !known[key] {
			continue
		}
		end := loc[1]
		if strings.HasPrefix(msg[end:], " ("+envPrefix) {
			return msg
		}
		return msg[:end] + " (" + envName(key) + ")" + msg[end:]
	}
	return msg
}

// envName is the environment variable of a configuration key path.
func envName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// configKeys are the dotted paths of every configuration key.
func configKeys() map[string]bool {
	cfg := DefaultConfig()
	out := map[string]bool{}
	keyPaths(reflect.ValueOf(&cfg).Elem().Type(), "", out)
	return out
}

// keyPaths walks the yaml tags of t like envKeys, recording dotted paths
// (sections too, so a message naming a section is recognised).
func keyPaths(t reflect.Type, prefix string, out map[string]bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" && strings.Contains(f.Tag.Get("yaml"), ",inline") && f.Type.Kind() == reflect.Struct {
			keyPaths(f.Type, prefix, out)
			continue
		}
		if tag == "" || tag == "-" {
			continue
		}
		out[prefix+tag] = true
		if f.Type.Kind() == reflect.Struct {
			keyPaths(f.Type, prefix+tag+".", out)
		}
	}
}

// LoadConfig reads path (may be empty for defaults only), applies the
// environment, fills derived defaults and validates the result. Unknown
// keys and unknown COUNTERSIGN_* variables are errors: a typo must not
// silently fall back to a default.
func LoadConfig(path string, env []string) (Config, error) {
	cfg := DefaultConfig()
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return cfg, configErrorf("config: %v", err)
		}
		if len(bytes.TrimSpace(raw)) > 0 {
			if err := safeyaml.Decode(path, raw, &cfg, yaml.DisallowUnknownField()); err != nil {
				return cfg, configErrorf("config: %s", yamlErrorLine(path, err))
			}
		}
	}
	if err := applyEnv(&cfg, env); err != nil {
		return cfg, err
	}
	if err := cfg.Executors.resolveTokens(env); err != nil {
		return cfg, err
	}
	if err := cfg.MCP.resolve(env); err != nil {
		return cfg, err
	}
	if cfg.Database == "" {
		cfg.Database = "sqlite:" + strings.TrimRight(cfg.DataDir, "/") + "/countersign.db"
	}
	return cfg, cfg.Validate()
}

// yamlErrorLine turns a YAML error into "file:line:col: message".
func yamlErrorLine(path string, err error) string {
	var pe *safeyaml.PanicError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s:%d: %s", path, max(pe.Line, 1), pe.Reason())
	}
	var ye interface {
		GetToken() *token.Token
		GetMessage() string
	}
	if errors.As(err, &ye) && ye.GetToken() != nil {
		p := ye.GetToken().Position
		return fmt.Sprintf("%s:%d:%d: %s", path, p.Line, p.Column, ye.GetMessage())
	}
	return path + ": " + strings.SplitN(err.Error(), "\n", 2)[0]
}

var bodyLimitPattern = regexp.MustCompile(`^[1-9][0-9]*[KMG]?$`)

// Validate checks every key and names the first bad one.
func (c *Config) Validate() error {
	if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
		return configErrorf("config: listen: %q is not host:port", c.Listen)
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return configErrorf("config: public_url: %q must be an absolute http(s) URL without query", c.PublicURL)
	}
	if _, _, err := models.ParseDSN(c.Database); err != nil {
		return configErrorf("config: %v", err)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return configErrorf("config: log.level: %q must be debug, info, warn or error", c.Log.Level)
	}
	if !bodyLimitPattern.MatchString(c.HTTP.BodyLimit) {
		return configErrorf("config: http.body_limit: %q must be a size like 512K or 1M", c.HTTP.BodyLimit)
	}
	if (c.HTTP.TLSCert == "") != (c.HTTP.TLSKey == "") {
		return configErrorf("config: http.tls_cert and http.tls_key must be set together")
	}
	for _, f := range []string{c.HTTP.TLSCert, c.HTTP.TLSKey} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return configErrorf("config: http TLS file: %v", err)
		}
	}
	if c.HTTP.ShutdownTimeout.D() <= 0 {
		return configErrorf("config: http.shutdown_timeout must be positive")
	}
	if c.Request.DefaultTTL.D() < time.Minute {
		return configErrorf("config: requests.default_ttl must be at least 1m")
	}
	if c.OIDC.Issuer != "" {
		if u, err := url.Parse(c.OIDC.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return configErrorf("config: %s: %q must be an absolute URL", setting("oidc.issuer"), c.OIDC.Issuer)
		}
		for key, v := range map[string]string{"oidc.client_id": c.OIDC.ClientID, "oidc.client_secret": c.OIDC.ClientSecret} {
			if v == "" {
				return configErrorf("config: %s is required with oidc.issuer", setting(key))
			}
		}
		if len(c.OIDC.RoleMap) == 0 {
			return configErrorf("config: %s is required with oidc.issuer (map IdP groups to roles)", setting("oidc.role_map"))
		}
		for group, roles := range c.OIDC.RoleMap {
			for _, r := range roles {
				if !knownRoles[r] {
					return configErrorf("config: oidc.role_map.%s: unknown role %q (use approver, auditor or admin)", group, r)
				}
			}
		}
		if err := c.StepUp.validateStrength(); err != nil {
			return err
		}
	}
	if c.Session.IdleTimeout.D() < time.Minute || c.Session.AbsoluteTimeout.D() < c.Session.IdleTimeout.D() {
		return configErrorf("config: session.idle_timeout must be at least 1m and at most session.absolute_timeout")
	}
	if c.StepUp.MaxAge.D() < 30*time.Second || c.StepUp.MaxAge.D() > time.Hour {
		return configErrorf("config: %s must be between 30s and 1h", setting("step_up.max_age"))
	}
	if err := c.Policy.validate(); err != nil {
		return err
	}
	for _, r := range c.Approvals.ApproverRoles {
		if !knownRoles[r] {
			return configErrorf("config: approvals.approver_roles: unknown role %q", r)
		}
	}
	if c.Audit.CheckpointInterval.D() < 10*time.Second {
		return configErrorf("config: audit.checkpoint_interval must be at least 10s")
	}
	if err := c.Grants.validate(); err != nil {
		return err
	}
	if err := c.Executors.validate(); err != nil {
		return err
	}
	if err := c.MCP.validate(len(c.Agents) > 0); err != nil {
		return err
	}
	if err := c.validateResultTimeout(); err != nil {
		return err
	}
	if err := c.validateChat(); err != nil {
		return err
	}
	if c.Mattermost.SiteURL != "" {
		if u, err := url.Parse(c.Mattermost.SiteURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return configErrorf("config: mattermost.site_url: %q must be an absolute URL", c.Mattermost.SiteURL)
		}
	}
	if err := c.validateMattermostOutbox(); err != nil {
		return err
	}
	if err := c.validateMattermostWebSocket(); err != nil {
		return err
	}
	if err := c.validateMattermostCache(); err != nil {
		return err
	}
	return c.validateMattermostMessages()
}

// knownRoles are the roles Countersign understands.
var knownRoles = map[string]bool{"approver": true, "auditor": true, "admin": true}

// TLS reports whether clients reach the portal over TLS (for HSTS).
func (c *Config) TLS() bool {
	return c.HTTP.TLSCert != "" || c.HTTP.BehindTLSProxy || strings.HasPrefix(c.PublicURL, "https://")
}

// envPrefix starts every configuration variable. Variables under
// envTestPrefix belong to the test suite and are ignored here.
const (
	envPrefix     = "COUNTERSIGN_"
	envTestPrefix = "COUNTERSIGN_TEST_"
)

// envKeys maps each COUNTERSIGN_* name to the field it sets, derived from
// the yaml tags so the two spellings can never drift apart.
func envKeys(v reflect.Value, prefix string, out map[string]reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" && strings.Contains(t.Field(i).Tag.Get("yaml"), ",inline") && v.Field(i).Kind() == reflect.Struct {
			envKeys(v.Field(i), prefix, out)
			continue
		}
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + strings.ToUpper(tag)
		f := v.Field(i)
		if f.Kind() == reflect.Struct {
			envKeys(f, name+"_", out)
			continue
		}
		out[name] = f
	}
}

// EnvNames lists every configuration variable, sorted (for --help).
func EnvNames() []string {
	cfg := DefaultConfig()
	m := map[string]reflect.Value{}
	envKeys(reflect.ValueOf(&cfg).Elem(), envPrefix, m)
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// setting names a configuration key with its environment variable, as
// error messages give it: "oidc.client_secret (COUNTERSIGN_OIDC_CLIENT_SECRET)".
func setting(key string) string { return key + " (" + envName(key) + ")" }

// validateStrength requires the step-up strength to be said: an acr or an
// amr to ask for, or password re-entry accepted in so many words. A
// provider left at its defaults re-asks for a password, and a portal that
// took that for a strong re-authentication would record decisions with
// empty evidence and no warning.
func (s StepUpConfig) validateStrength() error {
	strong := len(s.ACRValues) > 0 || len(s.AMRAny) > 0
	switch {
	case strong && s.PasswordOnly:
		return configErrorf("config: %s contradicts %s and %s: a step-up either asks for a strength or accepts a password alone",
			setting("step_up.password_only"), setting("step_up.acr_values"), setting("step_up.amr_any"))
	case !strong && !s.PasswordOnly:
		return configErrorf("config: say how strong a step-up must be: %s or %s (what your identity provider reports for a second factor), "+
			"or %s: true to accept a password re-entry (every decision then says so)",
			setting("step_up.acr_values"), setting("step_up.amr_any"), setting("step_up.password_only"))
	case s.EssentialACR && len(s.ACRValues) == 0:
		return configErrorf("config: %s needs %s", setting("step_up.essential_acr"), setting("step_up.acr_values"))
	}
	return nil
}

func applyEnv(cfg *Config, env []string) error {
	fields := map[string]reflect.Value{}
	envKeys(reflect.ValueOf(cfg).Elem(), envPrefix, fields)
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) || strings.HasPrefix(name, envTestPrefix) {
			continue
		}
		f, known := fields[name]
		if !known {
			return configErrorf("config: unknown environment variable %s", name)
		}
		if err := setField(f, val); err != nil {
			return configErrorf("config: %s: %v", name, err)
		}
	}
	return nil
}

// splitList splits s on sep and drops empty items.
func splitList(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func setField(f reflect.Value, val string) error {
	if u, ok := f.Addr().Interface().(interface{ UnmarshalText([]byte) error }); ok {
		return u.UnmarshalText([]byte(val))
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(val)
	case reflect.Bool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return fmt.Errorf("%q is not true or false", val)
		}
		f.SetBool(b)
	case reflect.Int:
		n, err := strconv.Atoi(val)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", val)
		}
		f.SetInt(int64(n))
	case reflect.Slice:
		// A list: comma-separated values.
		f.Set(reflect.ValueOf(splitList(val, ",")))
	case reflect.Map:
		// A map of lists: "group=role role;group2=role".
		m := map[string][]string{}
		for _, entry := range splitList(val, ";") {
			k, v, ok := strings.Cut(entry, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return fmt.Errorf("%q: want key=value value;key=value", entry)
			}
			m[strings.TrimSpace(k)] = strings.Fields(v)
		}
		f.Set(reflect.ValueOf(m))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}
