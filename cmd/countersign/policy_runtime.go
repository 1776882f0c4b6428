package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/policy"
	"github.com/countersign/countersign/models/window"
)

// policyRuntime is the policy in force, the watcher that reloads it and
// the change windows its rules can depend on.
type policyRuntime struct {
	holder *policy.Holder
	// watcher is nil without a policy file.
	watcher *policy.Watcher
	windows *window.Service
}

// startPolicy loads the configured policy file (a file that does not
// validate stops the start, with its problems) and prepares the watcher.
// Without a file the portal runs, but no request can be opened.
func startPolicy(cfg PolicyConfig, store *models.Store, log *slog.Logger) (*policyRuntime, error) {
	rt := &policyRuntime{holder: policy.NewHolder(nil), windows: window.New(store, nil)}
	if cfg.File == "" {
		log.Warn("no policy.file configured: no request can be opened (every submission is refused) until a policy file is configured")
		return rt, nil
	}
	return rt, rt.watch(cfg.File, cfg.interval(), store, log)
}

// watch loads file now and prepares its watcher (started by run).
func (rt *policyRuntime) watch(file string, interval time.Duration, store *models.Store, log *slog.Logger) error {
	rt.watcher = policy.NewWatcher(file, rt.holder, policy.WatchOptions{
		Interval: interval, Logger: log, OnEvent: policy.AuditLoads(store, log),
	})
	if err := rt.watcher.Reload(); err != nil {
		if le, ok := policy.AsLoadError(err); ok {
			return configErrorf("policy file refused, nothing started:\n%s", le.Error())
		}
		return &startupError{err: err}
	}
	return nil
}

// run reloads the policy when the file changes, and at once on SIGHUP,
// until ctx ends.
func (rt *policyRuntime) run(ctx context.Context, log *slog.Logger) {
	if rt.watcher == nil {
		return
	}
	go rt.watcher.Run(ctx)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := rt.watcher.Reload(); err != nil && !errors.Is(err, context.Canceled) {
					log.Warn("policy reload on SIGHUP refused", "err", fmt.Sprint(err))
				}
			}
		}
	}()
}

// rolesForGroups gives the policy in force's roles for IdP groups (none
// without a policy).
func (rt *policyRuntime) rolesForGroups(groups []string) []string {
	if p := rt.holder.Current(); p != nil {
		return p.RolesForIdPGroups(groups)
	}
	return nil
}

// status is the policy status for the portal (zero without a file).
func (rt *policyRuntime) status() policy.Status {
	if rt.watcher == nil {
		return policy.Status{}
	}
	return rt.watcher.Status()
}
