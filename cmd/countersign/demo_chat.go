package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/agents"
	"github.com/countersign/countersign/models/demodata"
	"github.com/countersign/countersign/web/demoidp"
)

// The demo agent and its client at the demo IdP.
const (
	demoAgentClient = "deploy-bot"
	demoAPIAudience = "countersign-api"
	// demoAgentBotUsername is the bot account that plays the demo agent
	// on a connected Mattermost, found by username.
	demoAgentBotUsername = "deploy-bot"
)

// demoChat is what the demo adds for chat: a slash-command token, the demo
// agent with an API key, and its client-credentials client at the IdP.
type demoChat struct {
	commandToken string
	// madeUp is true when no token was given and the demo made one up:
	// then no real Mattermost can call the slash command (Mattermost
	// generates the token), which the start says.
	madeUp      bool
	agentSecret string
	apiKey      string
	// agent is the demo agent's bot on Mattermost; agentMissing says why
	// there is none.
	agent        *AgentConfig
	agentMissing string
}

// demoChatFlags are the demo's Mattermost flags.
type demoChatFlags struct {
	url, botToken, commandToken, agentBot string
}

// configureDemoChat registers the command token and the demo agent in cfg
// and the agent's service client for the IdP. The slash command's token is
// the one Mattermost generated (an integration cannot choose it), given by
// flag or COUNTERSIGN_MATTERMOST_COMMAND_TOKENS; the agent is the bot
// account named by the flag, looked up on that Mattermost, so a real
// server's own bot plays it.
func configureDemoChat(ctx context.Context, cfg *Config, f demoChatFlags) (*demoChat, []demoidp.ServiceClient) {
	d := &demoChat{agentSecret: randomSecret()}
	// Flags win over COUNTERSIGN_MATTERMOST_* (applied before).
	if f.url != "" {
		cfg.Mattermost.SiteURL = f.url
	}
	if f.botToken != "" {
		cfg.Mattermost.Messages.BotToken = f.botToken
	}
	if cfg.Mattermost.SiteURL == "" {
		return d, nil
	}
	switch {
	case f.commandToken != "":
		cfg.Mattermost.CommandTokens = []string{f.commandToken}
	case len(cfg.Mattermost.CommandTokens) == 0:
		cfg.Mattermost.CommandTokens, d.madeUp = []string{randomSecret()}, true
	}
	d.commandToken = cfg.Mattermost.CommandTokens[0]
	d.agent, d.agentMissing = findDemoAgent(ctx, cfg.Mattermost.SiteURL, cfg.Mattermost.Messages.BotToken, f.agentBot)
	if d.agent == nil {
		return d, nil
	}
	cfg.Agents = AgentList{*d.agent}
	cfg.AgentAPI.Audience = demoAPIAudience
	return d, []demoidp.ServiceClient{{ID: demoAgentClient, Secret: d.agentSecret, Audience: []string{demoAPIAudience}}}
}

// findDemoAgent looks up the bot account named username on the
// Mattermost at siteURL with Countersign's bot token, and returns the demo
// agent it plays, sponsored by the bot's owner when Countersign's bot may
// read the bot record, else by the demo's sponsor name. nil and the reason
// when there is no such bot.
func findDemoAgent(ctx context.Context, siteURL, token, username string) (*AgentConfig, string) {
	if username == "" {
		return nil, "no agent bot named (--mattermost-agent-bot)"
	}
	if token == "" {
		return nil, "no bot token (--mattermost-bot-token) to look up @" + username
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c := model.NewAPIv4Client(siteURL)
	c.SetToken(token)
	u, _, err := c.GetUserByUsername(ctx, username, "")
	if err != nil {
		return nil, fmt.Sprintf("Mattermost has no account @%s Countersign's bot can see (%v)", username, err)
	}
	if !u.IsBot {
		return nil, fmt.Sprintf("@%s is not a bot account", username)
	}
	sponsor := demodata.DeployBot.SponsorName
	if b, _, err := c.GetBot(ctx, u.Id, ""); err == nil {
		if owner, _, err := c.GetUser(ctx, b.OwnerId, ""); err == nil {
			sponsor = owner.Username
		}
	}
	return &AgentConfig{Name: "deploy-bot", BotUserID: u.Id, Sponsor: sponsor, ClientID: demoAgentClient}, ""
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
	if cfg.Mattermost.SiteURL == "" {
		fmt.Fprintln(w, "  chat:     start with --mattermost-url URL --mattermost-bot-token TOKEN --mattermost-command-token TOKEN for the slash command and the agent API")
		return
	}
	fmt.Fprintf(w, "  slash command: POST %s/hooks/mattermost/command\n", cfg.PublicURL)
	if d.madeUp {
		fmt.Fprintf(w, "       no --mattermost-command-token given: the demo accepts %s, which no real Mattermost sends (it generates its own token; pass it, or run countersign mattermost setup)\n", d.commandToken)
	}
	if d.agent == nil {
		fmt.Fprintf(w, "  agent:    none (%s)\n", d.agentMissing)
		return
	}
	fmt.Fprintf(w, "  agent deploy-bot (bot user %s, sponsor %s):\n", d.agent.BotUserID, d.agent.Sponsor)
	fmt.Fprintf(w, "       API key %s\n", d.apiKey)
	fmt.Fprintf(w, "       or client credentials at %s/oauth/token: client %s, secret %s (audience %s)\n", cfg.OIDC.Issuer, demoAgentClient, d.agentSecret, demoAPIAudience)
}
