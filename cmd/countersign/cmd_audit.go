package main

import (
	"context"
	"fmt"
	"io"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
)

// errTampered is returned when verification finds the chain broken.
type errTampered struct{ p *audit.Problem }

func (e *errTampered) Error() string { return "audit chain INVALID: " + e.p.Error() }

func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) error {
	if len(args) == 0 || args[0] != "verify" {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
			fmt.Fprint(stdout, "Usage: countersign audit verify (--db DSN | --config FILE)\n")
			return errHelpShown
		}
		return &usageError{msg: "audit: expected a subcommand: verify"}
	}
	fs := newFlagSet("audit verify", "(--db DSN | --config FILE)", stderr)
	dsn := fs.String("db", "", "database to check: sqlite:PATH or postgres://…")
	configPath := fs.String("config", "", "take the database from this configuration file")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if (*dsn == "") == (*configPath == "") {
		return &usageError{msg: "audit verify: give exactly one of --db DSN or --config FILE"}
	}
	if *configPath != "" {
		cfg, err := LoadConfig(*configPath, env)
		if err != nil {
			return err
		}
		*dsn = cfg.Database
	}
	store, err := openStore(ctx, models.OpenOptions{DSN: *dsn, Existing: true})
	if err != nil {
		return err
	}
	defer store.Close()
	db, err := store.SQL()
	if err != nil {
		return err
	}
	rep, err := audit.Verify(ctx, db)
	if err != nil {
		return err
	}
	if rep.Problem != nil {
		fmt.Fprintf(stdout, "INVALID after %d good events: %s\n", rep.Events, rep.Problem)
		return &errTampered{p: rep.Problem}
	}
	fmt.Fprintf(stdout, "ok %d events, head %s\n", rep.Events, rep.Head)
	return nil
}
