package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/agents"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/execution"
	"github.com/countersign/countersign/models/grant"
	"github.com/countersign/countersign/web/agentauth"
	"github.com/countersign/countersign/web/mattermost"
)

// GrantSource hands out the execution grant of an approved request (wired
// by the grants feature; nil leaves grants out of the answer).
type GrantSource interface {
	Token(ctx context.Context, requestID string) (string, error)
}

// Agent API defaults.
const (
	DefaultAPIBodyLimit    = 1 << 20
	DefaultMaxWait         = 60 * time.Second
	DefaultPollInterval    = 500 * time.Millisecond
	DefaultCaptureDeadline = 10 * time.Second
)

// AgentAPIOptions configures the agent API.
type AgentAPIOptions struct {
	PublicURL string
	Grants    GrantSource
	// Redeemer lets an agent spend its request's grant and Results lets
	// it report the run (wired by the grants feature); nil answers 404 on
	// their endpoints.
	Redeemer *grant.Service
	Results  *execution.Service
	// BodyLimit bounds a request body in bytes.
	BodyLimit int64
	// MaxWait caps ?wait=; PollInterval is how often a long poll reads
	// the state (the store is shared by every replica, so this works with
	// several).
	MaxWait      time.Duration
	PollInterval time.Duration
	// CaptureDeadline bounds the reading of the proposal thread.
	CaptureDeadline time.Duration
	Logger          *slog.Logger
}

// AgentAPI serves the agent API under /api/v1.
type AgentAPI struct {
	auth    *agentauth.Authenticator
	chat    *mattermost.Client
	svc     *approval.Service
	idem    agents.Store
	states  agents.Store
	opts    AgentAPIOptions
	baseURL string
}

// NewAgentAPI returns the agent API. Register:
//
//	POST /api/v1/requests                  → Create
//	GET  /api/v1/requests/:id              → Show
//	POST /api/v1/requests/:id/grant/redeem → RedeemGrant
//	POST /api/v1/requests/:id/result       → ReportResult
func NewAgentAPI(auth *agentauth.Authenticator, chat *mattermost.Client, svc *approval.Service, idem agents.Store, states agents.Store, opts AgentAPIOptions) *AgentAPI {
	opts.BodyLimit = positiveOr(opts.BodyLimit, DefaultAPIBodyLimit)
	opts.MaxWait = positiveOr(opts.MaxWait, DefaultMaxWait)
	opts.PollInterval = positiveOr(opts.PollInterval, DefaultPollInterval)
	opts.CaptureDeadline = positiveOr(opts.CaptureDeadline, DefaultCaptureDeadline)
	opts.Logger = loggerOr(opts.Logger)
	return &AgentAPI{auth: auth, chat: chat, svc: svc, idem: idem, states: states, opts: opts, baseURL: strings.TrimRight(opts.PublicURL, "/")}
}

// agent authenticates the caller or answers 401.
func (h *AgentAPI) agent(c echo.Context) (*agents.Agent, bool, error) {
	a, err := h.auth.Authenticate(c.Request().Context(), c.Request().Header.Get("Authorization"))
	if err == nil && a != nil {
		return a, true, nil
	}
	reason := "unknown"
	if err != nil {
		reason = err.Error()
	}
	if errors.Is(err, agentauth.ErrUnavailable) {
		// The keys could not be read: say so, so the agent retries instead
		// of concluding that its key was revoked.
		h.opts.Logger.LogAttrs(c.Request().Context(), slog.LevelError, "agent api: credential not checked", slog.String("reason", reason))
		return nil, false, apiFail(c, http.StatusServiceUnavailable, "", "the credential could not be checked right now; nothing was done, try again")
	}
	h.opts.Logger.LogAttrs(c.Request().Context(), slog.LevelWarn, "agent api: credential refused", slog.String("reason", reason), slog.String("remote", c.RealIP()))
	return nil, false, apiFail(c, http.StatusUnauthorized, "", "a valid agent credential is required")
}

// requestView is what the API says about a request.
type requestView struct {
	ID                string          `json:"id"`
	State             models.State    `json:"state"`
	URL               string          `json:"url"`
	Outcome           string          `json:"outcome,omitempty"`
	Action            string          `json:"action"`
	RequiredApprovals int             `json:"required_approvals"`
	Decisions         DecisionSummary `json:"decisions"`
	ExpiresAt         time.Time       `json:"expires_at"`
	// Grant is the execution grant, once approved and when grants are on.
	Grant string `json:"grant,omitempty"`
	// RedeemURL and ResultURL say where to redeem the grant and report
	// the result, alongside the grant.
	RedeemURL string `json:"redeem_url,omitempty"`
	ResultURL string `json:"result_url,omitempty"`
	// Execution is the recorded run, once there is one.
	Execution *executionSummary `json:"execution,omitempty"`
}

func (h *AgentAPI) view(r *models.Request) requestView {
	return requestView{
		ID: r.ID, State: r.State, URL: h.baseURL + requestPath(r.ID), Action: r.Action,
		RequiredApprovals: r.RequiredApprovals, Decisions: summarize(r), ExpiresAt: r.ExpiresAt,
	}
}

// failLoad answers a failed request load.
func (h *AgentAPI) failLoad(c echo.Context, err error) error {
	if errors.Is(err, models.ErrNotFound) {
		return apiFail(c, http.StatusNotFound, "id", "no such request")
	}
	h.opts.Logger.Error("agent api: load request", "error", err.Error())
	return apiFail(c, http.StatusInternalServerError, "", "internal error")
}
