// Package mcpexample is a small "ops" MCP server: one read-only tool
// (service_status) and one that changes something (restart_service). It
// stands for the real servers an operator puts Countersign in front of:
// the demo runs it, and the gateway's tests use it as the upstream over
// stdio and streamable HTTP, counting restarts to prove that an approved
// call runs exactly once.
package mcpexample

import (
	"context"
	"fmt"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Tool names the server offers.
const (
	ToolStatus  = "service_status"
	ToolRestart = "restart_service"
)

// StatusInput is the argument of service_status.
type StatusInput struct {
	Service string `json:"service" jsonschema:"the service to look at"`
}

// StatusOutput is what service_status answers.
type StatusOutput struct {
	Service  string `json:"service"`
	State    string `json:"state"`
	Restarts int    `json:"restarts"`
}

// RestartInput is the argument of restart_service.
type RestartInput struct {
	Service string `json:"service" jsonschema:"the service to restart"`
	Env     string `json:"env" jsonschema:"staging or prod"`
}

// RestartOutput is what restart_service answers.
type RestartOutput struct {
	Restarted string `json:"restarted"`
	Env       string `json:"env"`
	Restarts  int    `json:"restarts"`
}

// Ops is the state behind the server: how often each service was
// restarted. Safe for concurrent use.
type Ops struct {
	mu       sync.Mutex
	restarts map[string]int
}

// New returns an Ops with no restarts yet.
func New() *Ops { return &Ops{restarts: map[string]int{}} }

// Restarts says how often service was restarted (in env, when env is not
// empty; in every env otherwise).
func (o *Ops) Restarts(service, env string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if env != "" {
		return o.restarts[service+"@"+env]
	}
	n := 0
	for _, e := range []string{"staging", "prod"} {
		n += o.restarts[service+"@"+e]
	}
	return n
}

func (o *Ops) restart(service, env string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.restarts[service+"@"+env]++
	return o.restarts[service+"@"+env]
}

// Server returns an MCP server offering the two tools on o.
func (o *Ops) Server() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "ops", Version: "1.0.0"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: ToolStatus, Description: "Show a service's state and restart count (read-only)"},
		func(_ context.Context, _ *mcp.CallToolRequest, in StatusInput) (*mcp.CallToolResult, StatusOutput, error) {
			if in.Service == "" {
				return nil, StatusOutput{}, fmt.Errorf("service is required")
			}
			return nil, StatusOutput{Service: in.Service, State: "running", Restarts: o.Restarts(in.Service, "")}, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: ToolRestart, Description: "Restart a service in an environment"},
		func(_ context.Context, _ *mcp.CallToolRequest, in RestartInput) (*mcp.CallToolResult, RestartOutput, error) {
			if in.Service == "" || (in.Env != "staging" && in.Env != "prod") {
				return nil, RestartOutput{}, fmt.Errorf("service and env (staging or prod) are required")
			}
			n := o.restart(in.Service, in.Env)
			return nil, RestartOutput{Restarted: in.Service, Env: in.Env, Restarts: n}, nil
		})
	return s
}
