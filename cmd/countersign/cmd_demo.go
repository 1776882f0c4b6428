package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/demodata"
)

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) error {
	fs := newFlagSet("demo", "[--data DIR] [--addr HOST:PORT]", stderr)
	dataDir := fs.String("data", "./data/demo", "directory for the demo's SQLite database (created if missing)")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg := DefaultConfig()
	cfg.Listen = *addr
	cfg.DataDir = *dataDir
	cfg.Database = "sqlite:" + filepath.Join(*dataDir, "countersign.db")
	cfg.PublicURL = "http://" + *addr
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return &startupError{err: fmt.Errorf("demo: data directory: %w", err)}
	}
	log := newLogger(stderr, cfg.Log.Level)
	store, err := openStore(ctx, models.OpenOptions{DSN: cfg.Database, Logger: log})
	if err != nil {
		return err
	}
	defer store.Close()
	svc := approval.New(store, approval.Config{})
	n, err := demodata.Seed(ctx, store, svc, time.Now())
	if err != nil {
		return err
	}
	p := &portal{cfg: cfg, log: log, store: store}
	return p.serve(ctx, func(a net.Addr) {
		fmt.Fprintf(stdout, "Countersign demo listening on http://%s\n", a)
		fmt.Fprintf(stdout, "  data:     %s (SQLite; %d demo requests seeded this start)\n", cfg.Database, n)
		fmt.Fprintf(stdout, "  health:   http://%s/healthz\n", a)
		fmt.Fprintf(stdout, "  verify:   go run ./cmd/countersign audit verify --db %s\n", cfg.Database)
		fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
	})
}
