package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/countersign/countersign/handlers"
	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/agents"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/window"
	"github.com/countersign/countersign/web/agentauth"
	"github.com/countersign/countersign/web/mattermost"
)

// chatRoutes says what the slash command (with mattermost.command_tokens)
// and the agent API (with agents) are built from, or returns nil when
// neither is configured.
// pol is the policy in force (the same source approval.Config.Policy
// uses); gp gives agents their grants, redeems them and records the
// results agents report (nil: no grants); idpClient reaches the IdP for
// agent tokens (nil: the default client).
func chatRoutes(ctx context.Context, cfg Config, store *models.Store, svc *approval.Service, client *mattermost.Client, rt *policyRuntime, gp *grantParts, idpClient *http.Client) (*handlers.Chat, error) {
	var pol approval.PolicySource
	var windows handlers.WindowCloser
	if rt != nil {
		pol, windows = rt.holder, windowCloser{rt.windows}
	}
	if len(cfg.Mattermost.CommandTokens) == 0 && len(cfg.Agents) == 0 {
		return nil, nil
	}
	routes := &handlers.Chat{Client: client, Approvals: svc}
	if len(cfg.Mattermost.CommandTokens) > 0 {
		routes.Command = &handlers.MattermostCommandOptions{Tokens: cfg.Mattermost.CommandTokens, Policy: pol, Windows: windows}
	}
	if len(cfg.Agents) > 0 {
		reg, err := cfg.registry()
		if err != nil {
			return nil, configErrorf("config: agents: %v", err)
		}
		ac := agentauth.Config{Keys: agents.NewKeys(store, reg, nil), Registry: reg, HTTPClient: idpClient}
		if cfg.AgentAPI.Audience != "" {
			ac.Issuer, ac.Audience = cfg.OIDC.Issuer, cfg.AgentAPI.Audience
		}
		auth, err := agentauth.New(ctx, ac)
		if err != nil {
			return nil, &startupError{err: fmt.Errorf("agent api: %w", err)}
		}
		var opts handlers.AgentAPIOptions
		if gp != nil {
			opts.Grants, opts.Redeemer, opts.Results = gp.grants, gp.grants, gp.exec
		}
		routes.Agents = &handlers.AgentEndpoints{Auth: auth, Records: agents.Store{S: store}, Options: opts}
	}
	return routes, nil
}

// windowCloser adapts the windows service to the command's WindowCloser.
type windowCloser struct{ s *window.Service }

// Close closes the open window name, audited as actor.
func (w windowCloser) Close(ctx context.Context, name string, actor models.Actor) error {
	_, err := w.s.Close(ctx, name, actor)
	return err
}

// botClient is the one Mattermost client of a process, shared by the slash
// command, the agent API, the outbox worker and the decision-time re-check
// (one connection pool, one lookup cache); nil when no bot is configured.
func botClient(cfg Config, log *slog.Logger) (*mattermost.Client, error) {
	if cfg.Mattermost.SiteURL == "" || cfg.Mattermost.Messages.BotToken == "" {
		return nil, nil
	}
	client, err := mattermost.New(mattermost.Config{
		SiteURL: cfg.Mattermost.SiteURL, BotToken: cfg.Mattermost.Messages.BotToken, Logger: log,
		CacheTTL: cfg.Mattermost.CacheTTL.D(),
	})
	if err != nil {
		return nil, &startupError{err: err}
	}
	return client, nil
}
