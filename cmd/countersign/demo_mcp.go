package main

import (
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/countersign/countersign/handlers"
	"github.com/countersign/countersign/web/mcpexample"
)

// demoOps is the example ops MCP server the demo puts Countersign in
// front of: served in process on a loopback port, with a bearer token of
// its own that only the gateway holds.
type demoOps struct {
	url string
	srv *http.Server
}

// startDemoOps serves the example ops server and names it as the
// gateway's upstream in cfg. It does nothing without a demo agent: only
// registered agents may connect to the gateway.
func startDemoOps(cfg *Config, chat *demoChat) (*demoOps, error) {
	if chat.agent == nil {
		return nil, nil
	}
	token := "Bearer " + randomSecret()
	// One server for every request (the SDK asks on each): its restart
	// counts and tool schemas live as long as the demo.
	ops := mcpexample.New().Server()
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return ops }, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, &startupError{err: fmt.Errorf("demo: ops MCP server: %w", err)}
	}
	d := &demoOps{url: "http://" + ln.Addr().String() + "/mcp"}
	d.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(token)) != 1 {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})}
	go func() { _ = d.srv.Serve(ln) }()
	up := MCPUpstreamConfig{Name: "ops", URL: d.url, headers: map[string]string{"Authorization": token}}
	cfg.MCP.Upstreams = append(cfg.MCP.Upstreams, up)
	return d, nil
}

// stop ends the example server.
func (d *demoOps) stop() {
	if d == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = d.srv.Shutdown(ctx)
}

// print says how to point an MCP client at Countersign.
func (d *demoOps) print(w io.Writer, addr string, chat *demoChat) {
	if d == nil {
		fmt.Fprintln(w, "  MCP:      start with --mattermost-url (a demo agent) for the MCP gateway in front of the example ops server")
		return
	}
	endpoint := "http://" + addr + handlers.MCPPath
	fmt.Fprintf(w, "  MCP:      gateway at %s (streamable HTTP) in front of the example ops server (%s):\n", endpoint, d.url)
	fmt.Fprintf(w, "       service_status passes through; restart_service is the action ops.restart (staging: approved at once; prod: waits for approvers)\n")
	fmt.Fprintf(w, "       claude mcp add --transport http countersign %s --header \"Authorization: Bearer %s\"\n", endpoint, chat.apiKey)
	fmt.Fprintf(w, "       or any MCP client: URL %s, header Authorization: Bearer <deploy-bot's API key>; _meta \"countersign/purpose\" gives a reason\n", endpoint)
}
