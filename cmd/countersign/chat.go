package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/countersign/countersign/handlers"
	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/mention"
	"github.com/countersign/countersign/models/outbox"
	"github.com/countersign/countersign/models/sweep"
	"github.com/countersign/countersign/web/mattermost"
	"github.com/countersign/countersign/web/mattermost/listen"
	"github.com/countersign/countersign/web/mattermost/notify"
)

// chatReminders is the sweeper's notifier: reminders and escalations
// queued for chat when the bot is configured; nil otherwise (they are
// only audited).
func chatReminders(cfg Config) sweep.Notifier {
	if !cfg.MattermostMessages() {
		return nil
	}
	return outbox.Reminders{}
}

// chatDirectory says whom to DM about a request: the Mattermost users the
// policy in force lists under the request's approver roles (and its
// escalation roles once escalated), with the configured static list.
func chatDirectory(cfg Config, rt *policyRuntime) notify.ApproverDirectory {
	d := notify.PolicyApprovers{Static: cfg.Mattermost.Messages.Approvers, DefaultRoles: cfg.Approvals.ApproverRoles}
	if rt != nil {
		d.Policy = rt.holder
	}
	return d
}

// chatParts are the running pieces of the Mattermost messages.
type chatParts struct {
	worker  *notify.Worker
	actions *notify.Actions
	// client is the bot the worker posts with.
	client *mattermost.Client
	// listener is the bot's WebSocket (mentions, edits); nil when off.
	listener *listen.Listener
}

// newChat builds the outbox worker and the button endpoint; nil when the
// bot is not configured.
func newChat(cfg Config, store *models.Store, svc *approval.Service, client *mattermost.Client, rt *policyRuntime, log *slog.Logger) (*chatParts, error) {
	if !cfg.MattermostMessages() || client == nil {
		return nil, nil
	}
	m := cfg.Mattermost.Messages
	key, err := notify.LoadActionKey(m.ActionKey, cfg.DataDir)
	if err != nil {
		return nil, &startupError{err: err}
	}
	signer, err := notify.NewSigner(key)
	if err != nil {
		return nil, &startupError{err: err}
	}
	render := notify.Renderer{PublicURL: cfg.PublicURL}
	actionURL := strings.TrimRight(cfg.PublicURL, "/") + "/hooks/mattermost/action"
	queue := outbox.NewQueue(store)
	w, err := notify.NewWorker(notify.WorkerConfig{
		Queue: queue, Chat: client, Render: render, Directory: chatDirectory(cfg, rt),
		Signer: signer, ActionURL: actionURL, MaxAttempts: m.OutboxMaxAttempts, Logger: log,
		Concurrency: m.OutboxConcurrency, ProbeInterval: m.OutboxProbeInterval.D(),
	})
	if err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	parts := &chatParts{
		worker:  w,
		actions: notify.NewActions(svc, queue, signer, render, actionURL, nil, log),
		client:  client,
	}
	if cfg.MattermostListens() {
		opts := handlers.MattermostCommandOptions{PublicURL: cfg.PublicURL, Logger: log}
		if rt != nil {
			opts.Policy, opts.Windows = rt.holder, windowCloser{rt.windows}
		}
		parts.listener, err = listen.New(listen.Config{
			Client: client, Commands: handlers.NewChatCommands(client, svc, opts), Claims: mention.NewClaims(store, nil),
			Rechecks: svc, CatchUp: cfg.Mattermost.WebSocket.CatchUp.D(), Logger: log, Queued: w.Wake,
		})
		if err != nil {
			return nil, fmt.Errorf("chat: %w", err)
		}
	}
	return parts, nil
}

// run drains the outbox and listens on the WebSocket until ctx ends.
func (c *chatParts) run(ctx context.Context) {
	if c.listener != nil {
		go c.listener.Run(ctx)
	}
	c.worker.Run(ctx)
}
