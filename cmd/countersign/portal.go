package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/web"
)

// startupError is a failure to start (database unreachable, directory not
// writable): exit status 2, like a configuration error.
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

// portal is the running server's parts.
type portal struct {
	cfg   Config
	log   *slog.Logger
	store *models.Store
}

// serve builds the web application and serves it until ctx ends. ready is
// called with the bound address once the listener is open.
func (p *portal) serve(ctx context.Context, ready func(net.Addr)) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	e, err := web.New(web.Options{
		Logger:    p.log,
		DB:        p.store,
		Registry:  reg,
		PublicURL: p.cfg.PublicURL,
		TLS:       p.cfg.TLS(),
		BodyLimit: p.cfg.HTTP.BodyLimit,
		Version:   version,
	})
	if err != nil {
		return fmt.Errorf("build web server: %w", err)
	}
	if err := web.Serve(ctx, e, web.ServeOptions{
		Addr: p.cfg.Listen, TLSCert: p.cfg.HTTP.TLSCert, TLSKey: p.cfg.HTTP.TLSKey,
		ShutdownTimeout: p.cfg.HTTP.ShutdownTimeout.D(), OnListen: ready,
	}); err != nil {
		return &startupError{err: err}
	}
	return nil
}
