package handlers

import (
	"github.com/countersign/countersign/models/agents"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/execution"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/web/agentauth"
	"github.com/countersign/countersign/web/mattermost"
	"github.com/countersign/countersign/web/mattermost/notify"
)

// Chat is what the machine-facing chat endpoints are built from:
// Mattermost's slash command, the agent API and the buttons of
// Countersign's messages. They authenticate with their own credentials
// (command token, agent key or IdP token, signed button context), so
// sessions and CSRF do not apply to their paths (/hooks/, /api/).
type Chat struct {
	// Client reads Mattermost as the bot. Required.
	Client *mattermost.Client
	// Approvals opens, shows and cancels requests. Required.
	Approvals *approval.Service
	// Command turns on POST /hooks/mattermost/command; nil leaves it off.
	Command *MattermostCommandOptions
	// Agents turns on the agent API under /api/v1; nil leaves it off.
	Agents *AgentEndpoints
	// Buttons answers the clicks on Countersign's chat messages at POST
	// /hooks/mattermost/action (notify.Actions); nil leaves the route off.
	Buttons *notify.Actions
}

// AgentEndpoints is what the agent API is built from.
type AgentEndpoints struct {
	// Auth tells which agent a credential belongs to. Required.
	Auth *agentauth.Authenticator
	// Records keeps idempotency records and reads request states.
	Records agents.Store
	// Options are the API's settings and its grant and result services.
	Options AgentAPIOptions
}

// GrantEndpoints is what the grant keys and the executors' redeem API are
// built from.
type GrantEndpoints struct {
	Grants    *grant.Service
	Executors *execution.Credentials
}

// CommandPath is where Mattermost posts the slash command.
const CommandPath = "/hooks/mattermost/command"
