package main

import (
	"context"
	"io"
	"net"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit/proof"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) error {
	fs := newFlagSet("serve", "--config FILE", stderr)
	configPath := fs.String("config", "", "YAML configuration file (every key can be overridden by COUNTERSIGN_* variables)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *configPath == "" {
		return &usageError{msg: "serve: --config FILE is required"}
	}
	cfg, err := LoadConfig(*configPath, env)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.Log.Level)
	store, err := openStore(ctx, models.OpenOptions{DSN: cfg.Database, Logger: log})
	if err != nil {
		return err
	}
	defer store.Close()
	cp, err := checkpointer(store, cfg, proof.OriginFromURL(cfg.PublicURL))
	if err != nil {
		return err
	}
	rt, err := startPolicy(cfg.Policy, store, log)
	if err != nil {
		return err
	}
	p, bot, err := newPortal(ctx, cfg, log, store, rt, "")
	if err != nil {
		return err
	}
	p.checkpoints = cp
	if cfg.OIDC.Issuer != "" {
		rp, err := relyingParty(ctx, cfg, nil, log)
		if err != nil {
			return err
		}
		p.auth = signIn(cfg, rp, store, rt)
	} else {
		log.Warn("no oidc.issuer configured: the portal serves only its public pages (no sign-in, no decisions)")
	}
	// The policy source joins here when policy files are loaded; until
	// then Submit refuses and the command says no policy is loaded.
	if p.inbound, err = chatRoutes(ctx, cfg, store, p.approvals, bot, rt, p.grants, nil); err != nil {
		return err
	}
	if err := p.startMCP(ctx, rt, bot); err != nil {
		return err
	}
	return p.serve(ctx, func(a net.Addr) {
		log.Info("countersign listening", "addr", a.String(), "public_url", cfg.PublicURL, "database", string(store.Dialect()), "sign_in", p.auth != nil, "policy", rt.status().Ref, "version", version)
	})
}
