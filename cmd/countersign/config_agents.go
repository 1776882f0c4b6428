package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/countersign/countersign/models/agents"
	"github.com/countersign/countersign/models/safeyaml"
)

// AgentConfig registers one agent: a Mattermost bot account acting for a
// human sponsor.
type AgentConfig struct {
	// Name identifies the agent (keys, audit, pages).
	Name string `yaml:"name" json:"name"`
	// BotUserID is the agent's Mattermost bot user id; its proposals must
	// be posts of exactly this account.
	BotUserID string `yaml:"bot_user_id" json:"bot_user_id"`
	// Sponsor is the accountable person's Mattermost username.
	Sponsor string `yaml:"sponsor" json:"sponsor"`
	// Roles are the policy roles the agent requests with.
	Roles []string `yaml:"roles" json:"roles"`
	// ClientID is the agent's OAuth client id at the IdP, for
	// client-credentials tokens (optional).
	ClientID string `yaml:"client_id" json:"client_id"`
}

// AgentList is the agents key: a YAML list in the file, JSON in
// COUNTERSIGN_AGENTS (a list of objects does not fit a plain variable).
type AgentList []AgentConfig

// UnmarshalYAML decodes the list strictly (unknown keys are errors).
func (l *AgentList) UnmarshalYAML(b []byte) error {
	var out []AgentConfig
	if err := safeyaml.Unmarshal("", b, &out, yaml.DisallowUnknownField()); err != nil {
		var pe *safeyaml.PanicError
		if errors.As(err, &pe) {
			// Its line would count from the start of the list, not the file.
			return fmt.Errorf("agents: %s", pe.Reason())
		}
		return fmt.Errorf("agents: %v", strings.SplitN(err.Error(), "\n", 2)[0])
	}
	*l = out
	return nil
}

// UnmarshalText reads COUNTERSIGN_AGENTS as a JSON list.
func (l *AgentList) UnmarshalText(b []byte) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var out []AgentConfig
	if err := dec.Decode(&out); err != nil {
		return fmt.Errorf("want a JSON list of agents: %v", err)
	}
	*l = out
	return nil
}

// AgentAPIConfig configures how agents authenticate.
type AgentAPIConfig struct {
	// Audience is the API's identifier that client-credentials tokens
	// must carry in aud. Empty: IdP tokens are not accepted (API keys
	// still are).
	Audience string `yaml:"audience"`
}

// registry builds the agent registry from the configuration.
func (c *Config) registry() (*agents.Registry, error) {
	list := make([]agents.Agent, len(c.Agents))
	for i, a := range c.Agents {
		list[i] = agents.Agent{Name: a.Name, BotUserID: a.BotUserID, Sponsor: a.Sponsor, Roles: a.Roles, ClientID: a.ClientID}
	}
	return agents.NewRegistry(list)
}

// validateChat checks the Mattermost integration and agent keys.
func (c *Config) validateChat() error {
	if _, err := c.registry(); err != nil {
		return configErrorf("config: agents: %v", err)
	}
	for i, t := range c.Mattermost.CommandTokens {
		if len(strings.TrimSpace(t)) < 16 {
			return configErrorf("config: mattermost.command_tokens[%d]: a slash-command token has at least 16 characters", i)
		}
	}
	if (len(c.Mattermost.CommandTokens) > 0 || len(c.Agents) > 0) && (c.Mattermost.SiteURL == "" || c.Mattermost.Messages.BotToken == "") {
		return configErrorf("config: mattermost.site_url and mattermost.bot_token are required for the slash command and agents (Countersign reads the conversation)")
	}
	if c.AgentAPI.Audience != "" && c.OIDC.Issuer == "" {
		return configErrorf("config: agent_api.audience needs oidc.issuer (the IdP that issues agent tokens)")
	}
	for _, a := range c.Agents {
		if a.ClientID != "" && c.AgentAPI.Audience == "" {
			return configErrorf("config: agents: %s has a client_id, so agent_api.audience is required", a.Name)
		}
	}
	return nil
}
