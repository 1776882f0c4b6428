package main

import (
	"context"
	"fmt"

	"github.com/countersign/countersign/models/mcpgate"
	"github.com/countersign/countersign/web/mattermost"
	"github.com/countersign/countersign/web/mcpgateway"
)

// mcpParts is the running MCP gateway and its upstream connections.
type mcpParts struct {
	gateway   *mcpgateway.Gateway
	upstreams []*mcpgateway.Upstream
}

// close ends the agents' sessions and the upstream connections (and the
// stdio servers' processes).
func (m *mcpParts) close() {
	if m == nil {
		return
	}
	m.gateway.Close()
	m.closeUpstreams()
}

// startMCP dials the configured upstreams and builds the gateway; it
// does nothing without upstreams. It needs the agent API (its
// credentials), the policy and grants.
func (p *portal) startMCP(ctx context.Context, rt *policyRuntime, bot *mattermost.Client) error {
	cfg := p.cfg.MCP
	if len(cfg.Upstreams) == 0 {
		return nil
	}
	if p.inbound == nil || p.inbound.Agents == nil || rt == nil || p.grants == nil {
		return configErrorf("config: mcp.upstreams needs agents, a policy file and grants")
	}
	parts := &mcpParts{}
	for _, uc := range cfg.gatewayUpstreams() {
		u, err := mcpgateway.Dial(ctx, uc)
		if err != nil {
			parts.closeUpstreams()
			return &startupError{err: fmt.Errorf("mcp: %w", err)}
		}
		parts.upstreams = append(parts.upstreams, u)
	}
	if err := mcpgateway.CheckTools(parts.upstreams); err != nil {
		parts.closeUpstreams()
		return &startupError{err: err}
	}
	gate := mcpgate.New(mcpgate.Config{Store: p.store, Policy: rt.holder, Approvals: p.approvals, Grants: p.grants.grants, Executions: p.grants.exec})
	gc := mcpgateway.Config{
		Upstreams: parts.upstreams, Auth: p.inbound.Agents.Auth, Gate: gate, PortalURL: p.cfg.PublicURL,
		Hold: cfg.Hold.D(), Logger: p.log,
	}
	if bot != nil && cfg.ChannelID != "" {
		gc.Proposer = &mcpgateway.ChatProposer{Chat: bot, ChannelID: cfg.ChannelID, Log: p.log}
	}
	parts.gateway = mcpgateway.New(gc)
	p.mcp = parts
	return nil
}

// closeUpstreams closes the upstreams dialled before a later one failed.
func (m *mcpParts) closeUpstreams() {
	for _, u := range m.upstreams {
		_ = u.Close()
	}
}
