package mcpgateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// DefaultUpstreamTimeout bounds one forwarded call.
const DefaultUpstreamTimeout = 30 * time.Second

// UpstreamConfig names an MCP server the gateway stands in front of:
// a command spoken to over stdio, or a streamable HTTP URL. Env and
// Headers carry the upstream's own credentials; they stay in the
// gateway's process and are never logged or shown.
type UpstreamConfig struct {
	// Name identifies the server in the policy (mcp_tool: name/tool),
	// in logs and on request pages.
	Name string
	// Command and Args start a stdio server; Env is added to the
	// gateway's environment for it.
	Command string
	Args    []string
	Env     []string
	// URL is a streamable HTTP endpoint; Headers are sent with every
	// request to it (e.g. Authorization).
	URL     string
	Headers map[string]string
	// Timeout bounds one forwarded call; zero means
	// DefaultUpstreamTimeout.
	Timeout time.Duration
}

// Upstream is a connected upstream server. The connection is made again
// when it was lost (a stdio server that exited, an HTTP session that
// ended).
type Upstream struct {
	cfg     UpstreamConfig
	mu      sync.Mutex
	session *mcp.ClientSession
	tools   []*mcp.Tool
	// gen counts the tool lists seen: it grows when a new connection
	// lists other tools, so agents' servers are built again.
	gen int
}

// Dial connects to the upstream and lists its tools.
func Dial(ctx context.Context, cfg UpstreamConfig) (*Upstream, error) {
	if cfg.Name == "" {
		return nil, errors.New("mcpgateway: an upstream needs a name")
	}
	if (cfg.Command == "") == (cfg.URL == "") {
		return nil, fmt.Errorf("mcpgateway: upstream %s: give either a command or a URL", cfg.Name)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultUpstreamTimeout
	}
	u := &Upstream{cfg: cfg}
	s, err := u.connect(ctx)
	if err != nil {
		return nil, err
	}
	tools, err := u.list(ctx, s)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	u.session, u.tools = s, tools
	return u, nil
}

// list reads the server's tools.
func (u *Upstream) list(ctx context.Context, s *mcp.ClientSession) ([]*mcp.Tool, error) {
	var tools []*mcp.Tool
	for t, err := range s.Tools(ctx, nil) {
		if err != nil {
			return nil, fmt.Errorf("mcpgateway: upstream %s: list tools: %w", u.cfg.Name, err)
		}
		tools = append(tools, t)
	}
	return tools, nil
}

// Name is the upstream's configured name.
func (u *Upstream) Name() string { return u.cfg.Name }

// Tools are the tools the upstream listed on its latest connection.
func (u *Upstream) Tools() []*mcp.Tool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.tools
}

// Generation grows each time a new connection lists other tools.
func (u *Upstream) Generation() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.gen
}

// Close ends the connection (and a stdio server's process).
func (u *Upstream) Close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.session == nil {
		return nil
	}
	err := u.session.Close()
	u.session = nil
	return err
}

func (u *Upstream) connect(ctx context.Context) (*mcp.ClientSession, error) {
	var t mcp.Transport
	if u.cfg.Command != "" {
		cmd := exec.Command(u.cfg.Command, u.cfg.Args...)
		cmd.Env = append(os.Environ(), u.cfg.Env...)
		t = &mcp.CommandTransport{Command: cmd, TerminateDuration: time.Second}
	} else {
		hc := &http.Client{Transport: headerTransport{base: http.DefaultTransport, headers: u.cfg.Headers}}
		t = &mcp.StreamableClientTransport{Endpoint: u.cfg.URL, HTTPClient: hc, DisableStandaloneSSE: true, MaxRetries: -1}
	}
	c := mcp.NewClient(&mcp.Implementation{Name: "countersign-gateway", Version: "1"}, nil)
	s, err := c.Connect(ctx, t, nil)
	if err != nil {
		// The error names the command or URL only, never Env or Headers.
		return nil, fmt.Errorf("mcpgateway: upstream %s: connect: %w", u.cfg.Name, err)
	}
	return s, nil
}

// current returns the live session, connecting again when it was lost.
func (u *Upstream) current(ctx context.Context) (*mcp.ClientSession, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.session != nil {
		return u.session, nil
	}
	s, err := u.connect(ctx)
	if err != nil {
		return nil, err
	}
	// The server may have come back with other tools.
	if tools, err := u.list(ctx, s); err == nil && !sameTools(tools, u.tools) {
		u.tools = tools
		u.gen++
	}
	u.session = s
	return s, nil
}

// sameTools reports whether two tool lists name the same tools with the
// same descriptions and schemas.
func sameTools(a, b []*mcp.Tool) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// drop forgets s after it failed, so the next call connects again.
func (u *Upstream) drop(s *mcp.ClientSession) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.session == s {
		_ = s.Close()
		u.session = nil
	}
}

// Call forwards one tools/call, bounded by the upstream's timeout. An
// error means no answer came (the tool's own failures are results with
// IsError).
func (u *Upstream) Call(ctx context.Context, tool string, args json.RawMessage) (*mcp.CallToolResult, error) {
	s, err := u.current(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	p := &mcp.CallToolParams{Name: tool}
	if len(args) > 0 {
		p.Arguments = args
	}
	res, err := s.CallTool(ctx, p)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("upstream %s did not answer within %s", u.cfg.Name, u.cfg.Timeout)
		}
		var werr *jsonrpc.Error
		if !errors.As(err, &werr) && ctx.Err() == nil {
			// Not the server's answer but a lost connection (a stdio
			// server that exited, an HTTP session that ended): connect
			// again on the next call.
			u.drop(s)
		}
		return nil, fmt.Errorf("upstream %s: %w", u.cfg.Name, err)
	}
	return res, nil
}

// headerTransport adds the upstream's configured headers.
type headerTransport struct {
	base    http.RoundTripper
	headers map[string]string
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if len(h.headers) > 0 {
		r = r.Clone(r.Context())
		for k, v := range h.headers {
			r.Header.Set(k, v)
		}
	}
	return h.base.RoundTrip(r)
}
