package main

import (
	"context"
	"fmt"
	"io"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/proof"
)

// errTampered is returned when verification finds the chain broken.
type errTampered struct{ p *audit.Problem }

func (e *errTampered) Error() string { return "audit chain INVALID: " + e.p.Error() }

const auditUsage = `Usage:
  countersign audit verify (--db DSN | --config FILE)     check the chain in the database
  countersign audit verify --bundle FILE --key KEY        check an exported bundle offline
  countersign audit verify-receipt --receipt FILE --key KEY
                                                          check a decision receipt offline
  countersign audit export (--config FILE | --db DSN --data DIR --origin ORIGIN)
                           --out FILE [--from N] [--to N] write a signed audit bundle
KEY is a verifier key (as served at /.well-known/countersign-audit-key) or a
file holding one or more.
`

func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) error {
	if len(args) == 0 {
		return &usageError{msg: "audit: expected a subcommand: verify, verify-receipt or export"}
	}
	switch args[0] {
	case "verify":
		return cmdAuditVerify(ctx, args[1:], stdout, stderr, env)
	case "verify-receipt":
		return cmdAuditVerifyReceipt(args[1:], stdout, stderr)
	case "export":
		return cmdAuditExport(ctx, args[1:], stdout, stderr, env)
	case "--help", "-h", "help":
		fmt.Fprint(stdout, auditUsage)
		return errHelpShown
	default:
		return &usageError{msg: fmt.Sprintf("audit: unknown subcommand %q (verify, verify-receipt, export)", args[0])}
	}
}

func cmdAuditVerify(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) error {
	fs := newFlagSet("audit verify", "(--db DSN | --config FILE | --bundle FILE --key KEY)", stderr)
	dsn := fs.String("db", "", "database to check: sqlite:PATH or postgres://…")
	configPath := fs.String("config", "", "take the database from this configuration file")
	bundle := fs.String("bundle", "", "check this exported bundle offline (no database, no network)")
	key := fs.String("key", "", "trusted verifier key, or a file holding keys (with --bundle)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *bundle != "" {
		if *dsn != "" || *configPath != "" {
			return &usageError{msg: "audit verify: --bundle checks a file; do not give --db or --config"}
		}
		return verifyBundleFile(*bundle, *key, stdout)
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
	// The stored Merkle tree (subtrees, tree state, checkpoint roots) is
	// recomputed from the events, not trusted: the integrity page and
	// proofs read it.
	tree, err := proof.VerifyStoredTree(ctx, db)
	if err != nil {
		return err
	}
	if tree.Skipped != "" {
		fmt.Fprintf(stdout, "Merkle tree not checked: %s\n", tree.Skipped)
		return nil
	}
	if tree.Problem != nil {
		fmt.Fprintf(stdout, "INVALID stored Merkle tree: %s\n", tree.Problem)
		return &errTampered{p: tree.Problem}
	}
	fmt.Fprintf(stdout, "ok Merkle tree: %d stored subtrees, tree state at %d events, %d checkpoint roots match the events\n", tree.Nodes, tree.StateSize, tree.Checkpoints)
	return nil
}
