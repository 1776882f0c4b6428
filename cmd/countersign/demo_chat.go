package main

import (
	"context"
	"fmt"
	"io"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/agents"
	"github.com/countersign/countersign/models/demodata"
	"github.com/countersign/countersign/web/demoidp"
)

// The demo agent and its client at the demo IdP.
const (
	demoAgentClient = "deploy-bot"
	demoAPIAudience = "countersign-api"
)

// demoChat is what the demo adds for chat: a slash-command token, the demo
// agent with an API key, and its client-credentials client at the IdP.
type demoChat struct {
	commandToken string
	agentSecret  string
	apiKey       string
}

// configureDemoChat registers the demo agent and the command token in cfg
// and the agent's service client for the IdP.
func configureDemoChat(cfg *Config, mmURL, mmToken string) (*demoChat, []demoidp.ServiceClient) {
	d := &demoChat{commandToken: randomSecret(), agentSecret: randomSecret()}
	// Flags win over COUNTERSIGN_MATTERMOST_* (applied before).
	if mmURL != "" {
		cfg.Mattermost.SiteURL = mmURL
	}
	if mmToken != "" {
		cfg.Mattermost.Messages.BotToken = mmToken
	}
	if cfg.Mattermost.SiteURL == "" {
		return d, nil
	}
	cfg.Mattermost.CommandTokens = []string{d.commandToken}
	cfg.Agents = AgentList{{Name: "deploy-bot", BotUserID: demodata.DeployBot.ID, Sponsor: demodata.DeployBot.SponsorName, ClientID: demoAgentClient}}
	cfg.AgentAPI.Audience = demoAPIAudience
	return d, []demoidp.ServiceClient{{ID: demoAgentClient, Secret: d.agentSecret, Audience: []string{demoAPIAudience}}}
}

// createKey makes a fresh API key for the demo agent.
func (d *demoChat) createKey(ctx context.Context, store *models.Store, cfg Config) error {
	if len(cfg.Agents) == 0 {
		return nil
	}
	reg, err := cfg.registry()
	if err != nil {
		return err
	}
	d.apiKey, _, err = agents.NewKeys(store, reg, nil).Create(ctx, "deploy-bot", 0, models.SystemActor("demo start"))
	return err
}

// print tells how to use the slash command and the agent API.
func (d *demoChat) print(w io.Writer, cfg Config) {
	if d.apiKey == "" {
		fmt.Fprintln(w, "  chat:     start with --mattermost-url URL --mattermost-bot-token TOKEN for the slash command and the agent API")
		return
	}
	fmt.Fprintf(w, "  slash command: POST %s/hooks/mattermost/command, token %s\n", cfg.PublicURL, d.commandToken)
	fmt.Fprintf(w, "  agent deploy-bot (bot user %s, sponsor %s):\n", demodata.DeployBot.ID, demodata.DeployBot.SponsorName)
	fmt.Fprintf(w, "       API key %s\n", d.apiKey)
	fmt.Fprintf(w, "       or client credentials at %s/oauth/token: client %s, secret %s (audience %s)\n", cfg.OIDC.Issuer, demoAgentClient, d.agentSecret, demoAPIAudience)
}
