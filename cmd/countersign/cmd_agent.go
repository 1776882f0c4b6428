package main

import (
	"context"
	"fmt"
	"io"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/agents"
)

const agentUsage = `Usage:
  countersign agent key create AGENT --config FILE [--expires 90d]
                                  make an API key for AGENT; prints it once
  countersign agent key revoke ID --config FILE
                                  revoke key ID at once
  countersign agent key list [AGENT] --config FILE
                                  list keys (never their secrets)
Agents are registered in the configuration file (agents: …).
`

func cmdAgent(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) error {
	if len(args) < 2 || args[0] != "key" || args[1] == "--help" || args[1] == "-h" || args[1] == "help" {
		if wantsHelp(args) {
			fmt.Fprint(stdout, agentUsage)
			return nil
		}
		return &usageError{msg: "agent: expected key create, key revoke or key list (try: countersign agent help)"}
	}
	sub, rest := args[1], args[2:]
	var pos string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		pos, rest = rest[0], rest[1:]
	}
	fs := newFlagSet("agent key "+sub, "--config FILE", stderr)
	configPath := fs.String("config", "", "YAML configuration file")
	expires := fs.String("expires", "90d", "key lifetime (e.g. 30d, 12h; at most 366d)")
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if *configPath == "" {
		return &usageError{msg: "agent key: --config FILE is required"}
	}
	if (sub == "create" || sub == "revoke") && pos == "" {
		return &usageError{msg: "agent key " + sub + ": name the " + map[string]string{"create": "agent", "revoke": "key id"}[sub]}
	}
	cfg, err := LoadConfig(*configPath, env)
	if err != nil {
		return err
	}
	reg, err := cfg.registry()
	if err != nil {
		return configErrorf("config: agents: %v", err)
	}
	store, err := openStore(ctx, models.OpenOptions{DSN: cfg.Database, Logger: newLogger(stderr, "warn")})
	if err != nil {
		return err
	}
	defer store.Close()
	keys := agents.NewKeys(store, reg, nil)
	by := operator()
	switch sub {
	case "create":
		ttl, err := parseDays(*expires)
		if err != nil {
			return &usageError{msg: "agent key create: --expires: " + err.Error()}
		}
		plain, rec, err := keys.Create(ctx, pos, ttl, by)
		if err != nil {
			return &usageError{msg: "agent key create: " + err.Error()}
		}
		fmt.Fprintf(stdout, "%s\n", plain)
		fmt.Fprintf(stderr, "key %s for agent %s, expires %s. It is shown only now: store it in the agent's secret store.\n",
			rec.ID, rec.Agent, rec.ExpiresAt.Format(time.RFC3339))
	case "revoke":
		rec, err := keys.Revoke(ctx, pos, by)
		if err != nil {
			return fmt.Errorf("agent key revoke: %w", err)
		}
		fmt.Fprintf(stdout, "revoked key %s of agent %s\n", rec.ID, rec.Agent)
	case "list":
		list, err := keys.List(ctx, pos)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tAGENT\tSTATUS\tCREATED\tEXPIRES\tBY")
		now := time.Now()
		for _, k := range list {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Agent, k.Status(now), k.CreatedAt.Format(time.RFC3339), k.ExpiresAt.Format(time.RFC3339), k.CreatedBy)
		}
		return w.Flush()
	default:
		return &usageError{msg: fmt.Sprintf("agent key: unknown subcommand %q", sub)}
	}
	return nil
}

// operator is the audit actor for key changes made on the command line.
func operator() models.Actor {
	name := "operator"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return models.Actor{Type: models.ActorSystem, ID: "countersign-cli", Display: "cli:" + name}
}

// parseDays accepts Go durations plus a days suffix ("90d").
func parseDays(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%q is not a duration such as 90d or 12h", s)
	}
	return v, nil
}
