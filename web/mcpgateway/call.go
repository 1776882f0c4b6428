package mcpgateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/countersign/countersign/models/agents"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/models/mcpgate"
)

// Keys of a call's _meta that the gateway reads, and of a result's _meta
// that it writes.
const (
	// MetaPurpose is the reason for a gated call (the request's purpose).
	MetaPurpose = "countersign/purpose"
	// MetaThread is a Mattermost post id whose thread holds the
	// conversation; the proposal is posted there.
	MetaThread = "countersign/thread"
	// MetaRequest names the request a call resumes (optional: repeating
	// the same call with the same arguments finds it too); results of
	// gated calls carry it.
	MetaRequest = "countersign/request_id"
	// MetaStatus says, on a result, what became of a gated call:
	// refused, pending_approval, executed, in_flight, failed.
	MetaStatus = "countersign/status"
	// MetaURL is the request's page in the portal.
	MetaURL = "countersign/url"
)

// toolHandler handles agent a's calls of upstream u's tool.
func (g *Gateway) toolHandler(a *agents.Agent, u *Upstream, tool string) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(g.life, cancel)
		defer stop()
		sid := req.Session.ID()
		started := time.Now()
		raw := req.Params.Arguments
		var res *mcp.CallToolResult
		if _, gated := g.cfg.Gate.Gated(u.Name(), tool); gated {
			res = g.gated(ctx, a, sid, u, tool, req)
		} else {
			res = g.pass(ctx, u, tool, raw)
		}
		g.chains.add(sid, observed{tool: tool, args: raw, result: res, failed: res.IsError, started: started, ended: time.Now()})
		return res, nil
	}
}

// pass forwards an ungated call as it came.
func (g *Gateway) pass(ctx context.Context, u *Upstream, tool string, raw json.RawMessage) *mcp.CallToolResult {
	res, err := u.Call(ctx, tool, raw)
	if err != nil {
		g.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "mcp gateway: upstream call failed", slog.String("upstream", u.Name()), slog.String("tool", tool), slog.String("error", err.Error()))
		return textResult(true, nil, "the upstream server %s did not answer: %v", u.Name(), err)
	}
	return res
}

// gated decides a call of a tool mapped to an action, holds it while it
// waits, and runs it once it may.
func (g *Gateway) gated(ctx context.Context, a *agents.Agent, sid string, u *Upstream, tool string, req *mcp.CallToolRequest) *mcp.CallToolResult {
	var args map[string]any
	if len(req.Params.Arguments) > 0 {
		if err := json.Unmarshal(req.Params.Arguments, &args); err != nil {
			return textResult(true, mcp.Meta{MetaStatus: "refused"}, "the arguments must be a JSON object")
		}
	}
	meta := req.Params.GetMeta()
	call := mcpgate.Call{
		Agent: a.Actor(), Roles: a.Roles, Server: u.Name(), Tool: tool, Arguments: args,
		Purpose: metaString(meta, MetaPurpose), RequestID: metaString(meta, MetaRequest), Chain: g.chains.get(sid),
	}
	gate, err := g.cfg.Gate.Decide(ctx, call, g.cfg.Proposer, metaString(meta, MetaThread))
	if err != nil {
		g.cfg.Logger.LogAttrs(ctx, slog.LevelError, "mcp gateway: decide", slog.String("agent", a.Name), slog.String("tool", tool), slog.String("error", err.Error()))
		return textResult(true, mcp.Meta{MetaStatus: "refused"}, "Countersign could not decide on this call; nothing ran, try again")
	}
	if gate.Verdict == mcpgate.Waiting {
		if gate, err = g.hold(ctx, req, call, gate); err != nil {
			g.cfg.Logger.LogAttrs(ctx, slog.LevelError, "mcp gateway: hold", slog.String("agent", a.Name), slog.String("tool", tool), slog.String("error", err.Error()))
			return textResult(true, mcp.Meta{MetaStatus: "refused"}, "Countersign could not follow this call's request; nothing ran, call again to resume")
		}
	}
	m := g.meta(gate)
	switch gate.Verdict {
	case mcpgate.Waiting:
		m[MetaStatus] = "pending_approval"
		return textResult(true, m, "%s; nothing ran yet. Approvers decide at %s. Call %s again with the same arguments to resume (or with _meta %q: %q).",
			gate.Reason, m[MetaURL], tool, MetaRequest, gate.Request.ID)
	case mcpgate.Ready:
		return g.run(ctx, a, u, tool, gate, m)
	case mcpgate.Ungated:
		// The policy was reloaded between the two lookups and no longer
		// maps the tool to an action: it passes through, as it would
		// have a moment later.
		return g.pass(ctx, u, tool, req.Params.Arguments)
	case mcpgate.Ran:
		m[MetaStatus] = "executed"
		return textResult(true, m, "%s", gate.Reason)
	case mcpgate.InFlight:
		m[MetaStatus] = "in_flight"
		return textResult(true, m, "%s", gate.Reason)
	default:
		m[MetaStatus] = "refused"
		return textResult(true, m, "%s", gate.Reason)
	}
}

// hold waits while the call's request waits for approvers, sending
// progress notifications when the agent asked for them, up to the
// configured hold. It returns the decision as it stands then.
func (g *Gateway) hold(ctx context.Context, req *mcp.CallToolRequest, call mcpgate.Call, gate *mcpgate.Gate) (*mcpgate.Gate, error) {
	token := req.Params.GetProgressToken()
	deadline := time.Now().Add(g.cfg.Hold)
	id := gate.Request.ID
	for step := 1; ; step++ {
		if token != nil {
			_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
				ProgressToken: token, Progress: float64(step),
				Message: fmt.Sprintf("waiting for approval of %s: %s", id, g.requestURL(id)),
			})
		}
		until := time.Now().Add(g.cfg.ProgressEvery)
		if deadline.Before(until) {
			until = deadline
		}
		state, err := g.cfg.Gate.Wait(ctx, id, until, g.cfg.Poll)
		if err != nil {
			if ctx.Err() != nil {
				return gate, nil
			}
			return nil, err
		}
		if state != gate.Request.State {
			call.RequestID = id
			return g.cfg.Gate.Decide(ctx, call, nil, "")
		}
		if !time.Now().Before(deadline) {
			return gate, nil
		}
	}
}

// run spends the grant and forwards the approved call.
func (g *Gateway) run(ctx context.Context, a *agents.Agent, u *Upstream, tool string, gate *mcpgate.Gate, m mcp.Meta) *mcp.CallToolResult {
	var res *mcp.CallToolResult
	_, out, err := g.cfg.Gate.Run(ctx, gate, a.Actor(), func(ctx context.Context, params json.RawMessage) mcpgate.Outcome {
		r, err := u.Call(ctx, tool, params)
		if err != nil {
			g.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "mcp gateway: approved call failed upstream", slog.String("upstream", u.Name()), slog.String("tool", tool), slog.String("request_id", gate.Request.ID), slog.String("error", err.Error()))
			return mcpgate.Outcome{Failed: true, Error: err.Error()}
		}
		res = r
		b, _ := json.Marshal(r)
		o := mcpgate.Outcome{Result: b, Failed: r.IsError}
		if r.IsError {
			o.Error = "the tool answered with an error"
		}
		return o
	})
	var re *grant.RefusedError
	switch {
	case errors.As(err, &re):
		if re.Reason == grant.ReasonReplayed {
			// Another call spent the grant between this call's look at
			// the request and its redemption: the same answer as a
			// request found in flight.
			m[MetaStatus] = "in_flight"
			return textResult(true, m, "the approved call of %s was started by another call; it is not run again", gate.Request.ID)
		}
		m[MetaStatus] = "refused"
		if re.Reason == grant.ReasonParamsMismatch {
			return textResult(true, m, "refused: these arguments differ from the ones approved in %s; nothing ran", gate.Request.ID)
		}
		return textResult(true, m, "refused: %s; nothing ran", re.Detail)
	case err != nil && res == nil && !out.Failed:
		g.cfg.Logger.LogAttrs(ctx, slog.LevelError, "mcp gateway: run", slog.String("request_id", gate.Request.ID), slog.String("error", err.Error()))
		return textResult(true, m, "Countersign could not run the approved call of %s", gate.Request.ID)
	case err != nil:
		// It ran, but its result could not be recorded: say so, and
		// still give the agent what the tool answered.
		g.cfg.Logger.LogAttrs(ctx, slog.LevelError, "mcp gateway: record result", slog.String("request_id", gate.Request.ID), slog.String("error", err.Error()))
	}
	if res == nil {
		m[MetaStatus] = "failed"
		return textResult(true, m, "the approved call of %s was sent, but %s", gate.Request.ID, out.Error)
	}
	m[MetaStatus] = "executed"
	if res.IsError {
		m[MetaStatus] = "failed"
	}
	out2 := *res
	out2.Meta = mergeMeta(res.Meta, m)
	return &out2
}

// meta is the _meta of a gated call's result.
func (g *Gateway) meta(gate *mcpgate.Gate) mcp.Meta {
	m := mcp.Meta{}
	if gate.Request != nil {
		m[MetaRequest] = gate.Request.ID
		m[MetaURL] = g.requestURL(gate.Request.ID)
	}
	return m
}

func (g *Gateway) requestURL(id string) string { return g.cfg.PortalURL + "/requests/" + id }

func mergeMeta(a, b mcp.Meta) mcp.Meta {
	out := mcp.Meta{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func metaString(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// textResult is a result the gateway writes itself.
func textResult(isErr bool, m mcp.Meta, format string, a ...any) *mcp.CallToolResult {
	return &mcp.CallToolResult{Meta: m, IsError: isErr, Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf(format, a...)}}}
}
