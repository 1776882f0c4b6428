// Command countersign runs the Countersign approval portal and its tools.
//
//	countersign serve --config FILE    run the portal
//	countersign demo [--data DIR]      run the portal with demo data on SQLite
//	countersign audit verify --db DSN  check the audit chain
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and found a problem (e.g. tampering)
	exitUsage   = 2 // bad arguments or configuration; nothing was started
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Environ()))
}

// usageError is bad command-line input: exit status 2 with the usage hint.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// exitCode maps an error to the process exit status.
func exitCode(err error) int {
	var ue *usageError
	var ce *configError
	var se *startupError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue), errors.As(err, &ce), errors.As(err, &se):
		return exitUsage
	default:
		return exitFailure
	}
}

const usage = `countersign — approval portal for ChatOps

Usage:
  countersign serve --config FILE      run the portal
  countersign demo [--data DIR] [--addr HOST:PORT]
                                       run the portal with demo data (SQLite)
  countersign audit verify (--db DSN | --config FILE)
                                       check the audit hash chain in the database
  countersign audit export --config FILE --out FILE
                                       write a signed audit bundle
  countersign audit verify --bundle FILE --key KEY
  countersign audit verify-receipt --receipt FILE --key KEY
                                       check a bundle or a receipt offline
  countersign agent key (create AGENT | revoke ID | list) --config FILE
                                       manage agent API keys (shown once, stored hashed)
  countersign policy lint FILE         check a policy file (problems as FILE:LINE)
  countersign policy test FILE [CASES] evaluate sample requests against a policy
  countersign mattermost setup --url URL --public-url URL --team NAME
                                       create the bot and the slash command, print the config
  countersign healthcheck [--url URL]  probe a running portal (for container health checks)
  countersign version                  print the version

Run "countersign COMMAND --help" for a command's flags.
`

// run is main without the process: it parses args, runs one command and
// returns the exit status, writing errors as one line to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr, env)
	case "demo":
		err = cmdDemo(ctx, args[1:], stdout, stderr, env)
	case "audit":
		err = cmdAudit(ctx, args[1:], stdout, stderr, env)
	case "agent":
		err = cmdAgent(ctx, args[1:], stdout, stderr, env)
	case "healthcheck":
		err = cmdHealthcheck(ctx, args[1:], stdout, stderr)
	case "policy":
		err = cmdPolicy(args[1:], stdout, stderr)
	case "mattermost":
		err = cmdMattermost(ctx, args[1:], stdout, stderr, env)
	case "version", "--version":
		fmt.Fprintln(stdout, "countersign", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		err = &usageError{msg: fmt.Sprintf("unknown command %q (try: countersign help)", args[0])}
	}
	if errors.Is(err, errHelpShown) {
		return exitOK
	}
	if err != nil {
		// One line, whatever the driver's error looked like: operators grep
		// logs and supervisors show only the last line.
		fmt.Fprintln(stderr, "countersign:", strings.Join(strings.Fields(err.Error()), " "))
	}
	return exitCode(err)
}
