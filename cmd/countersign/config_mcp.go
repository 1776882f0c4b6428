package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/countersign/countersign/models/safeyaml"
	"github.com/countersign/countersign/web/mcpgateway"
)

// MCPConfig turns on the MCP gateway at /api/v1/mcp: agents (the
// configured agents, with their API keys) connect to it and reach the
// upstream MCP servers through it.
type MCPConfig struct {
	// Upstreams are the MCP servers Countersign stands in front of.
	Upstreams MCPUpstreamList `yaml:"upstreams"`
	// Hold is how long a call waiting for approvers is held before the
	// agent is told to call again (default 20s; at most 50s, under the
	// server's write timeout).
	Hold Duration `yaml:"hold"`
	// ChannelID is the Mattermost channel where the gateway posts the
	// proposal of each call that needs approval (an agent may name a
	// thread in it). Empty: requests carry no conversation.
	ChannelID string `yaml:"channel_id"`
}

// MCPUpstreamConfig is one upstream server: a stdio command or a
// streamable HTTP URL. Its credentials come from the environment only
// (env_from, headers_from name the variables), so they are neither in
// the file nor in logs.
type MCPUpstreamConfig struct {
	Name string `yaml:"name" json:"name"`
	// Command is the program and its arguments.
	Command []string `yaml:"command" json:"command"`
	URL     string   `yaml:"url" json:"url"`
	// EnvFrom maps a variable the stdio server gets to the variable of
	// Countersign's own environment that holds its value.
	EnvFrom map[string]string `yaml:"env_from" json:"env_from"`
	// HeadersFrom maps an HTTP header sent upstream (e.g.
	// Authorization) to the variable that holds its value.
	HeadersFrom map[string]string `yaml:"headers_from" json:"headers_from"`
	// Timeout bounds one forwarded call (default 30s).
	Timeout Duration `yaml:"timeout" json:"timeout"`

	env     []string
	headers map[string]string
}

// MCPUpstreamList is a YAML list in the file, JSON in
// COUNTERSIGN_MCP_UPSTREAMS.
type MCPUpstreamList []MCPUpstreamConfig

// UnmarshalYAML decodes the list strictly.
func (l *MCPUpstreamList) UnmarshalYAML(b []byte) error {
	var out []MCPUpstreamConfig
	if err := safeyaml.Unmarshal("", b, &out, yaml.DisallowUnknownField()); err != nil {
		var pe *safeyaml.PanicError
		if errors.As(err, &pe) {
			return fmt.Errorf("mcp.upstreams: %s", pe.Reason())
		}
		return fmt.Errorf("mcp.upstreams: %v", strings.SplitN(err.Error(), "\n", 2)[0])
	}
	*l = out
	return nil
}

// UnmarshalText reads COUNTERSIGN_MCP_UPSTREAMS as a JSON list.
func (l *MCPUpstreamList) UnmarshalText(b []byte) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var out []MCPUpstreamConfig
	if err := dec.Decode(&out); err != nil {
		return fmt.Errorf("want a JSON list of upstreams: %v", err)
	}
	*l = out
	return nil
}

var upstreamName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// maxHold keeps a held call under the server's write timeout.
const maxHold = 50 * time.Second

// resolve reads the upstreams' credentials from env.
func (m *MCPConfig) resolve(env []string) error {
	lookup := func(name string) (string, bool) {
		for _, kv := range env {
			if k, v, ok := strings.Cut(kv, "="); ok && k == name {
				return v, true
			}
		}
		return "", false
	}
	for i := range m.Upstreams {
		u := &m.Upstreams[i]
		u.env, u.headers = nil, map[string]string{}
		for k, from := range u.EnvFrom {
			v, ok := lookup(from)
			if !ok {
				return configErrorf("config: mcp.upstreams[%d] (%s): env_from.%s: environment variable %s is not set", i, u.Name, k, from)
			}
			u.env = append(u.env, k+"="+v)
		}
		for h, from := range u.HeadersFrom {
			v, ok := lookup(from)
			if !ok {
				return configErrorf("config: mcp.upstreams[%d] (%s): headers_from.%s: environment variable %s is not set", i, u.Name, h, from)
			}
			u.headers[h] = v
		}
	}
	return nil
}

// validate checks the gateway's settings.
func (m MCPConfig) validate(agentsConfigured bool) error {
	if len(m.Upstreams) == 0 {
		return nil
	}
	if !agentsConfigured {
		return configErrorf("config: mcp.upstreams needs agents: only registered agents may connect to the MCP gateway")
	}
	if h := m.Hold.D(); h < 0 || h > maxHold {
		return configErrorf("config: mcp.hold must be between 0 (default 20s) and %s", maxHold)
	}
	seen := map[string]bool{}
	for i, u := range m.Upstreams {
		switch {
		case !upstreamName.MatchString(u.Name):
			return configErrorf("config: mcp.upstreams[%d]: name %q must be 1-32 lower-case letters, digits, '_' or '-'", i, u.Name)
		case seen[u.Name]:
			return configErrorf("config: mcp.upstreams[%d]: %s is named twice", i, u.Name)
		case (len(u.Command) == 0) == (u.URL == ""):
			return configErrorf("config: mcp.upstreams[%d] (%s): give either command or url", i, u.Name)
		case u.URL != "" && !strings.HasPrefix(u.URL, "http://") && !strings.HasPrefix(u.URL, "https://"):
			return configErrorf("config: mcp.upstreams[%d] (%s): url must be http(s)", i, u.Name)
		case len(u.Command) > 0 && len(u.HeadersFrom) > 0, u.URL != "" && len(u.EnvFrom) > 0:
			return configErrorf("config: mcp.upstreams[%d] (%s): env_from is for commands, headers_from for URLs", i, u.Name)
		}
		seen[u.Name] = true
	}
	return nil
}

// gatewayUpstreams is the upstreams as the gateway dials them.
func (m MCPConfig) gatewayUpstreams() []mcpgateway.UpstreamConfig {
	out := make([]mcpgateway.UpstreamConfig, 0, len(m.Upstreams))
	for _, u := range m.Upstreams {
		c := mcpgateway.UpstreamConfig{Name: u.Name, URL: u.URL, Headers: u.headers, Env: u.env, Timeout: u.Timeout.D()}
		if len(u.Command) > 0 {
			c.Command, c.Args = u.Command[0], u.Command[1:]
		}
		out = append(out, c)
	}
	return out
}
