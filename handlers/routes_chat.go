package handlers

import (
	"github.com/labstack/echo/v4"
)

// ChatRoutes are the machine-facing endpoints: Mattermost's slash command
// and the agent API. They authenticate with their own credentials (command
// token, agent key or IdP token), so sessions and CSRF do not apply to
// their paths (/hooks/, /api/).
type ChatRoutes struct {
	// Command is the slash command (*MattermostCommand); nil
	// leaves POST /hooks/mattermost/command off.
	Command interface{ Handle(echo.Context) error }
	// Agents is the agent API (*AgentAPI); nil leaves /api/v1
	// off.
	Agents interface {
		Create(echo.Context) error
		Show(echo.Context) error
		RedeemGrant(echo.Context) error
		ReportResult(echo.Context) error
	}
}

// CommandPath is where Mattermost posts the slash command.
const CommandPath = "/hooks/mattermost/command"

// registerChatRoutes adds the slash command and the agent API.
func registerChatRoutes(e *echo.Echo, r *ChatRoutes) {
	if r == nil {
		return
	}
	if r.Command != nil {
		e.POST(CommandPath, r.Command.Handle)
	}
	if r.Agents != nil {
		e.POST("/api/v1/requests", r.Agents.Create)
		e.GET("/api/v1/requests/:id", r.Agents.Show)
		e.POST("/api/v1/requests/:id/grant/redeem", r.Agents.RedeemGrant)
		e.POST("/api/v1/requests/:id/result", r.Agents.ReportResult)
	}
}
