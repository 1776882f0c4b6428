// Package mcpgateway is Countersign's MCP endpoint (streamable HTTP): an
// agent connects with its own credential (an agent API key or a
// client-credentials token, checked by agentauth), sees the tools of the
// upstream MCP servers named in the configuration, and calls them through
// Countersign. A call of a tool the policy maps to an action is decided by
// models/mcpgate (deny, auto-approve, or held while approvers decide); any
// other call passes through. Every call of a session is observed and
// becomes the tool chain of the requests the session opens.
package mcpgateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/countersign/countersign/models/agents"
	"github.com/countersign/countersign/models/mcpgate"
	"github.com/countersign/countersign/web/agentauth"
)

// Defaults for holding a call that waits for approvers.
const (
	// DefaultHold is how long a call is held before the agent is told to
	// call again.
	DefaultHold = 20 * time.Second
	// DefaultPoll is how often a held call looks at its request.
	DefaultPoll = 200 * time.Millisecond
	// DefaultProgressEvery is how often a held call sends a progress
	// notification (when the agent asked for them).
	DefaultProgressEvery = 2 * time.Second
)

// Authenticator checks an agent's credential (*agentauth.Authenticator
// is one).
type Authenticator interface {
	Authenticate(ctx context.Context, authorization string) (*agents.Agent, error)
}

// Config configures a Gateway.
type Config struct {
	Upstreams []*Upstream
	Auth      Authenticator
	Gate      *mcpgate.Service
	// Proposer posts the proposal of a new request in chat; nil stores
	// requests without a conversation.
	Proposer mcpgate.Proposer
	// PortalURL is the portal's public URL, for links to requests.
	PortalURL string
	// Hold, Poll and ProgressEvery: see the defaults.
	Hold, Poll, ProgressEvery time.Duration
	// AuthCache is how long a verified credential counts as verified
	// (DefaultAuthCache when zero; negative checks every request).
	AuthCache time.Duration
	Logger    *slog.Logger
}

// Gateway serves the MCP endpoint.
type Gateway struct {
	cfg     Config
	handler *mcp.StreamableHTTPHandler
	// owners maps an MCP session id to the agent that opened it: a
	// session is only ever continued with the same agent's credential.
	owners sync.Map
	chains *chains
	// servers are each agent's server (its sessions share it), built
	// again when the policy in force changes.
	mu      sync.Mutex
	servers map[string]agentServer
	// retired are servers replaced after a policy change; their sessions
	// live on until they end, and Close ends them too.
	retired []*mcp.Server
	closed  bool
	pruned  time.Time
	// life ends when the gateway closes; calls in progress end with it.
	life context.Context
	end  context.CancelFunc
}

type agentKey struct{}

// New builds a Gateway over connected upstreams.
func New(cfg Config) *Gateway {
	if cfg.Hold <= 0 {
		cfg.Hold = DefaultHold
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = DefaultProgressEvery
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.AuthCache == 0 {
		cfg.AuthCache = DefaultAuthCache
	}
	cfg.Auth = newAuthCache(cfg.Auth, cfg.AuthCache)
	g := &Gateway{cfg: cfg, chains: newChains(), servers: map[string]agentServer{}}
	g.life, g.end = context.WithCancel(context.Background())
	g.handler = mcp.NewStreamableHTTPHandler(func(r *http.Request) *mcp.Server {
		a, _ := r.Context().Value(agentKey{}).(*agents.Agent)
		if a == nil {
			return nil
		}
		return g.serverOf(a)
	}, &mcp.StreamableHTTPOptions{
		Logger: cfg.Logger, SessionTimeout: time.Hour,
		// The SDK refuses requests reaching a loopback listener with
		// another Host, against DNS rebinding of credential-less local
		// servers. Every request here carries the agent's credential, and
		// Countersign often listens on loopback behind a reverse proxy
		// that sends the public Host: the check would refuse every agent.
		DisableLocalhostProtection: true,
	})
	return g
}

// ServeHTTP authenticates the agent on every HTTP request and keeps each
// MCP session to the agent that opened it.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, err := g.cfg.Auth.Authenticate(r.Context(), r.Header.Get("Authorization"))
	switch {
	case errors.Is(err, agentauth.ErrUnavailable):
		http.Error(w, "the credential cannot be checked now; try again", http.StatusServiceUnavailable)
		return
	case err != nil:
		w.Header().Set("WWW-Authenticate", `Bearer realm="countersign"`)
		http.Error(w, "an agent credential is required", http.StatusUnauthorized)
		return
	}
	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	if closed {
		http.Error(w, "the gateway is shutting down", http.StatusServiceUnavailable)
		return
	}
	if sid := r.Header.Get("Mcp-Session-Id"); sid != "" {
		owner, ok := g.owners.Load(sid)
		if !ok || owner.(sessionOwner).agent != a.Name {
			// Another agent's session is as unknown as one that never was.
			http.Error(w, "session not found", http.StatusNotFound)
			return
		}
		if r.Method == http.MethodDelete {
			defer g.forget(sid)
		}
	}
	g.handler.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), agentKey{}, a)))
}

// sessionOwner is the agent that opened a session, and when.
type sessionOwner struct {
	agent string
	since time.Time
}

// orphanAfter is how long an id handed out for a session that never
// became live is kept (the SDK asks for one when a client probes a newer
// protocol first, and such a session never initializes).
const orphanAfter = time.Minute

// prune forgets, at most once per orphanAfter, ids older than that of
// sessions no server has live.
func (g *Gateway) prune(now time.Time) {
	g.mu.Lock()
	if now.Sub(g.pruned) < orphanAfter {
		g.mu.Unlock()
		return
	}
	g.pruned = now
	live := map[string]bool{}
	for _, s := range g.retired {
		for ss := range s.Sessions() {
			live[ss.ID()] = true
		}
	}
	for _, as := range g.servers {
		for ss := range as.server.Sessions() {
			live[ss.ID()] = true
		}
	}
	g.mu.Unlock()
	g.owners.Range(func(k, v any) bool {
		if id := k.(string); !live[id] && now.Sub(v.(sessionOwner).since) > orphanAfter {
			g.forget(id)
		}
		return true
	})
}

// forget drops what the gateway kept about a session.
func (g *Gateway) forget(sid string) {
	g.owners.Delete(sid)
	g.chains.drop(sid)
}

// agentServer is an agent's server and the policy (and upstream tool
// lists) it was built under.
type agentServer struct {
	server    *mcp.Server
	policyRef string
}

// serverOf returns agent a's server. The SDK asks for it on every HTTP
// request, so it is built once per agent, policy version and upstream
// tool lists.
func (g *Gateway) serverOf(a *agents.Agent) *mcp.Server {
	ref := g.cfg.Gate.PolicyRef()
	for _, u := range g.cfg.Upstreams {
		ref += fmt.Sprintf("|%d", u.Generation())
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if as, ok := g.servers[a.Name]; ok && as.policyRef == ref {
		return as.server
	}
	if old, ok := g.servers[a.Name]; ok {
		g.retired = append(g.retired, old.server)
	}
	s := g.serverFor(a)
	g.servers[a.Name] = agentServer{server: s, policyRef: ref}
	return s
}

// serverFor builds the MCP server of agent a: the upstream tools a may
// call, each handled by the gateway. Sessions opened on it belong to a.
func (g *Gateway) serverFor(a *agents.Agent) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "countersign", Version: "1"}, &mcp.ServerOptions{
		Logger: g.cfg.Logger,
		GetSessionID: func() string {
			id := newSessionID()
			now := time.Now()
			g.owners.Store(id, sessionOwner{agent: a.Name, since: now})
			g.prune(now)
			return id
		},
		// When a session ends (closed, timed out), what the gateway kept
		// about it goes with it.
		InitializedHandler: func(_ context.Context, req *mcp.InitializedRequest) {
			ss := req.Session
			go func() {
				_ = ss.Wait()
				g.forget(ss.ID())
			}()
		},
		Capabilities: &mcp.ServerCapabilities{Tools: &mcp.ToolCapabilities{}},
	})
	for _, u := range g.cfg.Upstreams {
		for _, t := range u.Tools() {
			if !g.cfg.Gate.MayCall(u.Name(), t.Name, a.Roles) {
				continue
			}
			s.AddTool(t, g.toolHandler(a, u, t.Name))
		}
	}
	return s
}

// CheckTools refuses upstreams that offer a tool of the same name: an
// agent calls tools by name, so each name must lead to one server.
func CheckTools(ups []*Upstream) error {
	seen := map[string]string{}
	for _, u := range ups {
		for _, t := range u.Tools() {
			if prev, ok := seen[t.Name]; ok {
				return fmt.Errorf("mcpgateway: tool %s is offered by both %s and %s", t.Name, prev, u.Name())
			}
			seen[t.Name] = u.Name()
		}
	}
	return nil
}

// Close ends every open MCP session (held calls end with them; their
// requests stay on record, so the agents resume them by calling again).
func (g *Gateway) Close() {
	g.mu.Lock()
	servers := g.retired
	for _, as := range g.servers {
		servers = append(servers, as.server)
	}
	g.servers, g.retired, g.closed = map[string]agentServer{}, nil, true
	g.mu.Unlock()
	g.end()
	for _, s := range servers {
		for ss := range s.Sessions() {
			_ = ss.Close()
		}
	}
}

func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
