package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/countersign/countersign/handlers"
	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/agents"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/models/audit/search"
	"github.com/countersign/countersign/models/outbox"
	"github.com/countersign/countersign/models/passkey"
	"github.com/countersign/countersign/web/mattermost"
	"github.com/countersign/countersign/web/oidcrp"
)

// startupError is a failure to start (database unreachable, directory not
// writable, IdP unreachable): exit status 2, like a configuration error.
type startupError struct{ err error }

func (e *startupError) Error() string { return e.err.Error() }
func (e *startupError) Unwrap() error { return e.err }

// newLogger returns the JSON logger every component shares.
func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(strings.ToUpper(level)))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// openStore opens the configured database, reporting failures as startup
// errors with one line.
func openStore(ctx context.Context, opts models.OpenOptions) (*models.Store, error) {
	s, err := models.Open(ctx, opts)
	if err != nil {
		return nil, &startupError{err: err}
	}
	return s, nil
}

// approvalService builds the domain service with the configured rules
// (step-up, approver roles, the conversation re-read at decision time
// through bot when chat is configured), the policy runtime (policy in
// force, open windows) and the effects every change sets off in its
// transaction: fx (terms, grant, execution, from newGrants) completed with
// the window opener, the chat outbox and the agents' idempotency record.
// approval.Effects fixes their order.
// stepUpRule is the portal's step-up rule from the configuration: the one
// decisions are checked against, and the one a passkey's enrolment needs.
func stepUpRule(cfg Config) approval.StepUpRule {
	return approval.StepUpRule{
		MaxAge: cfg.StepUp.MaxAge.D(), ACR: cfg.StepUp.ACRValues,
		AMRAny: cfg.StepUp.AMRAny, EssentialACR: cfg.StepUp.EssentialACR,
	}
}

func approvalService(store *models.Store, cfg Config, rt *policyRuntime, bot *mattermost.Client, fx approval.Effects, pks *passkey.Service) *approval.Service {
	ac := approval.Config{
		ApproverRoles:     cfg.Approvals.ApproverRoles,
		SponsorMayApprove: cfg.Approvals.SponsorMayApprove,
		DefaultTTL:        cfg.Request.DefaultTTL.D(),
		StepUp:            stepUpRule(cfg),
		Effects:           fx,
		Passkeys:          pks,
	}
	ac.Effects.Idempotency = agents.IdempotencyHook{}
	if cfg.MattermostMessages() {
		// Nothing would drain the outbox without the bot.
		ac.Effects.Chat = outbox.Hook{}
	}
	if cfg.MattermostMessages() && bot != nil {
		// Decisions read the conversation again first (edits, deletions).
		ac.Conversation, ac.RereadTimeout = mattermost.NewRereader(bot), cfg.Mattermost.Messages.RecheckTimeout.D()
	}
	if rt != nil {
		ac.Policy, ac.Windows = rt.holder, rt.windows
		ac.Effects.Window = rt.windows.Hook()
	}
	return approval.New(store, ac)
}

// relyingParty is the portal's client of the configured IdP; client,
// when not nil, reaches the IdP (the demo passes an in-process client).
// It runs discovery once and vets the provider against the step-up
// settings (a provider that cannot assert them stops the start). A
// provider that does not answer does not: the portal starts without
// sign-in, /readyz says why, and discovery is retried until it answers.
func relyingParty(ctx context.Context, cfg Config, client *http.Client, log *slog.Logger) (*oidcrp.Deferred, error) {
	rp := oidcrp.NewDeferred(oidcrp.Config{
		Issuer: cfg.OIDC.Issuer, ClientID: cfg.OIDC.ClientID, ClientSecret: cfg.OIDC.ClientSecret,
		RedirectURL: strings.TrimRight(cfg.PublicURL, "/") + "/auth/callback",
		Scopes:      cfg.OIDC.Scopes, RolesClaim: cfg.OIDC.RolesClaim, HTTPClient: client,
		// The username claim is read like the profile claims: from the ID
		// token, or from userinfo when the token leaves it out.
		Claims: []string{cfg.OIDC.UsernameClaim},
	}, func(rp *oidcrp.RP) error { return checkProviderStrength(cfg.StepUp, rp, log) })
	err := rp.Discover(ctx)
	switch {
	case err == nil:
		return rp, nil
	case errors.Is(err, oidcrp.ErrDiscovery):
		log.Warn("the identity provider did not answer discovery: the portal starts without sign-in and asks again until it answers",
			"issuer", cfg.OIDC.Issuer, "error", err.Error())
		go func() {
			rp.Run(ctx, discoveryRetry, func(err error) {
				log.Warn("identity provider discovery failed again", "issuer", cfg.OIDC.Issuer, "error", err.Error())
			})
			if rp.Ready(ctx) == nil {
				log.Info("the identity provider answered: sign-in is on", "issuer", cfg.OIDC.Issuer)
			}
		}()
		return rp, nil
	}
	var ce *configError
	if errors.As(err, &ce) {
		return nil, err
	}
	return nil, &startupError{err: fmt.Errorf("oidc: %w", err)}
}

// discoveryRetry is the first wait before discovery is retried (it backs
// off from there, see oidcrp.Deferred.Run).
const discoveryRetry = 5 * time.Second

// signIn turns the configuration into the portal's sign-in settings
// (portal completes them with the services its pages use).
func signIn(cfg Config, rp *oidcrp.Deferred, store *models.Store, rt *policyRuntime) *handlers.Portal {
	var policyRoles func([]string) []string
	if rt != nil {
		policyRoles = rt.rolesForGroups
	}
	return &handlers.Portal{
		RP: rp, Store: store, Roles: cfg.OIDC.RoleMap, UsernameClaim: cfg.OIDC.UsernameClaim, PolicyRoles: policyRoles,
		StepUpAtSignIn: cfg.StepUp.AtSignIn,
		IdleTimeout:    cfg.Session.IdleTimeout.D(), AbsoluteTimeout: cfg.Session.AbsoluteTimeout.D(),
	}
}

// portal is the running server's parts.
type portal struct {
	cfg       Config
	log       *slog.Logger
	store     *models.Store
	approvals *approval.Service
	// passkeys is the passkey service the approvals check with (nil: off).
	passkeys *passkey.Service
	// auth is nil when no IdP is configured: only public pages are served.
	auth *handlers.Portal
	// demoIdP is the demo provider mounted at demoPrefix (demo only).
	demoIdP    http.Handler
	demoPrefix string
	// checkpoints signs the audit log head; its key is published.
	checkpoints *proof.Checkpointer
	// chat posts back into Mattermost; nil when the bot is not configured.
	chat *chatParts
	// grants are grants, executions and their workers (nil: none).
	grants *grantParts
	// example is the demo's example executor (demo only).
	example http.Handler
	// inbound is the slash command and agent API (chat_inbound.go); nil when off.
	inbound *handlers.Chat
	// policy is the policy in force, its watcher and the change windows.
	policy *policyRuntime
	// accessLog receives the per-request lines (nil: log).
	accessLog *slog.Logger
	// mcp is the MCP gateway (mcp_gateway.go); nil when off.
	mcp *mcpParts
}

// serve builds the web application and serves it until ctx ends. ready is
// called with the bound address once the listener is open.
func (p *portal) serve(ctx context.Context, ready func(net.Addr)) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts := handlers.Options{
		Logger:       p.log,
		AccessLogger: p.accessLog,
		DB:           p.store,
		Registry:     reg,
		PublicURL:    p.cfg.PublicURL,
		TLS:          p.cfg.TLS(),
		BodyLimit:    p.cfg.HTTP.BodyLimit,
		Version:      version,
		DemoIdP:      p.demoIdP, DemoIdPPrefix: p.demoPrefix,
		Chat: p.inbound,
	}
	if p.checkpoints != nil {
		opts.AuditKey = p.checkpoints.VerifierKey()
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		go signCheckpoints(ctx, p.checkpoints, p.cfg.Audit.CheckpointInterval.D(), p.log)
	}
	// The audit search's full-text index is merged in small steps (SQLite).
	go search.NewTidier(p.store, search.TidierConfig{Logger: p.log}).Run(ctx, searchTidyInterval)
	if p.policy != nil {
		p.policy.run(ctx, p.log)
	}
	if p.chat != nil {
		if l := p.chat.listener; l != nil {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "countersign_mattermost_websocket_connected",
				Help: "1 while the bot's WebSocket to Mattermost is open (mentions answered, edits seen live), 0 otherwise.",
			}, func() float64 {
				if l.Connected() {
					return 1
				}
				return 0
			}))
		}
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		go p.chat.run(ctx)
		if opts.Chat == nil {
			opts.Chat = &handlers.Chat{Client: p.chat.client, Approvals: p.approvals}
		}
		opts.Chat.Buttons = p.chat.actions
	}
	if p.grants != nil {
		opts.Grants = &handlers.GrantEndpoints{Grants: p.grants.grants, Executors: p.grants.creds}
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		p.grants.start(ctx)
	}
	opts.ExampleExecutor = p.example
	if p.mcp != nil {
		opts.MCP = p.mcp.gateway
		defer p.mcp.close()
	}
	if p.auth != nil {
		portal := *p.auth
		portal.Approvals, portal.MattermostURL, portal.Checkpoints = p.approvals, p.cfg.Mattermost.SiteURL, p.checkpoints
		if p.checkpoints != nil {
			// /audit/integrity checks the stored tree state with bounded
			// reads; the full pass that re-reads every event to vouch for
			// that state runs now, off the request path, and then every
			// 10 minutes.
			portal.Integrity = proof.NewIntegrityCache(p.checkpoints, 0)
			portal.CheckpointInterval = p.cfg.Audit.CheckpointInterval.D()
			go func() {
				if err := portal.Integrity.Refresh(ctx); err != nil && ctx.Err() == nil {
					p.log.Warn("audit integrity: first verification failed; /audit/integrity will try again", "error", err.Error())
				}
			}()
		}
		portal.Executions, portal.Grants = p.executions(), p.grantRecords()
		portal.Passkeys = p.passkeys
		if p.cfg.MattermostMessages() {
			// Nothing would deliver the notes without the bot.
			portal.CommentNotes = outbox.CommentNotes{}
		}
		if p.policy != nil {
			portal.Policy = &handlers.PolicyPages{Windows: p.policy.windows, State: handlers.PolicyState{Status: p.policy.status, Policy: p.policy.holder.Current}}
		}
		opts.Portal = &portal
	}
	e, err := handlers.New(opts)
	if err != nil {
		return &startupError{err: fmt.Errorf("build web server: %w", err)}
	}
	if err := handlers.Serve(ctx, e, handlers.ServeOptions{
		Addr: p.cfg.Listen, TLSCert: p.cfg.HTTP.TLSCert, TLSKey: p.cfg.HTTP.TLSKey,
		ShutdownTimeout: p.cfg.HTTP.ShutdownTimeout.D(), OnListen: ready,
	}); err != nil {
		return &startupError{err: err}
	}
	return nil
}

// newPortal builds what serve and demo share: the grant service and its
// effects (executorFallback: the executor for actions whose catalogue
// entry names none), the bot client, the approval service, the grant and
// execution workers and the chat messages. The caller adds sign-in, the
// chat endpoints and its own parts.
func newPortal(ctx context.Context, cfg Config, log *slog.Logger, store *models.Store, rt *policyRuntime, executorFallback string) (*portal, *mattermost.Client, error) {
	g, fx, err := newGrants(ctx, store, cfg, policyTerms(rt, executorFallback))
	if err != nil {
		return nil, nil, err
	}
	bot, err := botClient(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	pks, err := passkeyService(store, cfg, nil)
	if err != nil {
		return nil, nil, &configError{msg: err.Error()}
	}
	svc := approvalService(store, cfg, rt, bot, fx, pks)
	p := &portal{cfg: cfg, log: log, store: store, approvals: svc, passkeys: pks, policy: rt, grants: newGrantParts(store, svc, g, cfg, log)}
	if p.chat, err = newChat(cfg, store, svc, bot, rt, log); err != nil {
		return nil, nil, err
	}
	return p, bot, nil
}
