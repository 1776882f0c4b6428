package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit/bundle"
	"github.com/countersign/countersign/models/audit/proof"
)

// errInvalid is an offline check that found a problem: exit status 1.
type errInvalid struct{ what string }

func (e *errInvalid) Error() string { return e.what + " INVALID" }

// readKeys returns the trusted verifier keys: the contents of the file arg
// names, or arg itself when it is a key ("origin+hash+base64") and no such
// file exists.
func readKeys(arg string) (string, error) {
	if arg == "" {
		return "", &usageError{msg: "--key is required: the verifier key you trust (never the one a bundle names)"}
	}
	b, err := os.ReadFile(arg)
	if err == nil {
		return string(b), nil
	}
	if strings.Count(arg, "+") >= 2 && errors.Is(err, os.ErrNotExist) {
		return arg, nil
	}
	return "", &usageError{msg: fmt.Sprintf("--key: %v", err)}
}

func verifyBundleFile(path, key string, stdout io.Writer) error {
	keys, err := readKeys(key)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return &usageError{msg: fmt.Sprintf("audit verify: %v", err)}
	}
	defer f.Close()
	rep, err := bundle.Verify(f, keys)
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	if err := rep.WriteText(stdout); err != nil {
		return err
	}
	if !rep.Valid() {
		return &errInvalid{what: "audit bundle " + filepath.Base(path)}
	}
	return nil
}

func cmdAuditVerifyReceipt(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit verify-receipt", "--receipt FILE --key KEY", stderr)
	path := fs.String("receipt", "", "the receipt (JSON) to check")
	key := fs.String("key", "", "trusted verifier key, or a file holding keys")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return &usageError{msg: "audit verify-receipt: --receipt FILE is required"}
	}
	keys, err := readKeys(*key)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(*path)
	if err != nil {
		return &usageError{msg: fmt.Sprintf("audit verify-receipt: %v", err)}
	}
	r, err := proof.ParseReceipt(data)
	if err == nil {
		err = proof.VerifyReceipt(r, keys)
	}
	if err != nil {
		fmt.Fprintf(stdout, "INVALID: %v\n", err)
		return &errInvalid{what: "receipt " + filepath.Base(*path)}
	}
	fmt.Fprintf(stdout, "OK: event %d is in the log signed at size %d\n", r.Event.Seq, r.TreeSize)
	if strength := decisionStrength(r.Event.Payload); strength != "" {
		fmt.Fprintf(stdout, "%s by %s: strength: %s\n", r.Event.Type, r.Event.ActorDisplay, strength)
	}
	if pk := r.Passkey; pk != nil {
		fmt.Fprintf(stdout, "%s by %s: signed with a passkey enrolled at event %d; the signed statement names this request, content and verdict, and no revocation in the receipt precedes it\n",
			r.Event.Type, r.Event.ActorDisplay, pk.Enrollment.Event.Seq)
	}
	return nil
}

// decisionStrength is what a decision event's payload says of its
// step-up strength ("" for other events and strong decisions).
func decisionStrength(payload string) string {
	var p struct {
		StepUp struct {
			Strength string `json:"strength"`
		} `json:"step_up"`
	}
	if json.Unmarshal([]byte(payload), &p) != nil {
		return ""
	}
	return p.StepUp.Strength
}

func cmdAuditExport(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) error {
	fs := newFlagSet("audit export", "(--config FILE | --db DSN --data DIR --origin ORIGIN) --out FILE [--from N] [--to N]", stderr)
	configPath := fs.String("config", "", "take database, data directory and origin from this configuration file")
	dsn := fs.String("db", "", "database: sqlite:PATH or postgres://…")
	dataDir := fs.String("data", "", "directory holding the checkpoint signing key")
	origin := fs.String("origin", "", "log origin (default: from public_url, e.g. cs.example.com/audit)")
	out := fs.String("out", "", "bundle file to write")
	from := fs.Int64("from", 1, "first event")
	to := fs.Int64("to", 0, "last event (0: the current head)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return &usageError{msg: "audit export: --out FILE is required"}
	}
	switch {
	case *configPath != "":
		cfg, err := LoadConfig(*configPath, env)
		if err != nil {
			return err
		}
		*dsn, *dataDir = cfg.Database, cfg.DataDir
		if *origin == "" {
			*origin = proof.OriginFromURL(cfg.PublicURL)
		}
	case *dsn == "" || *dataDir == "" || *origin == "":
		return &usageError{msg: "audit export: give --config FILE, or --db, --data and --origin"}
	}
	store, err := openStore(ctx, models.OpenOptions{DSN: *dsn, Existing: true})
	if err != nil {
		return err
	}
	defer store.Close()
	key, err := proof.LoadOrCreateKey(*dataDir, *origin)
	if err != nil {
		return &startupError{err: fmt.Errorf("audit export: signing key: %w", err)}
	}
	cp, err := proof.NewCheckpointer(store, key)
	if err != nil {
		return err
	}
	if *to == 0 {
		c, err := cp.Checkpoint(ctx)
		if err != nil {
			return fmt.Errorf("audit export: %w", err)
		}
		*to = c.Size
	}
	tmp := *out + ".partial"
	f, err := os.Create(tmp)
	if err != nil {
		return &usageError{msg: fmt.Sprintf("audit export: %v", err)}
	}
	werr := bundle.Write(ctx, cp, f, *from, *to)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("audit export: %w", err)
	}
	if err := os.Rename(tmp, *out); err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	fmt.Fprintf(stdout, "wrote events %d–%d to %s\nverify with: countersign audit verify --bundle %s --key %q\n", *from, *to, *out, *out, cp.VerifierKey())
	return nil
}
