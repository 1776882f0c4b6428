package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/countersign/countersign/handlers"
	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/demodata"
	"github.com/countersign/countersign/web/demoidp"
	"github.com/countersign/countersign/web/exampleexecutor"
	"github.com/countersign/countersign/web/inprocess"
)

// demoClientID is the portal's client id at the demo provider.
const demoClientID = "countersign-demo"

// demoOrigin names the demo's audit log in its signed checkpoints.
const demoOrigin = "countersign-demo/audit"

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) error {
	fs := newFlagSet("demo", "[--data DIR] [--addr HOST:PORT] [--log-requests]", stderr)
	dataDir := fs.String("data", "./data/demo", "directory for the demo's SQLite database (created if missing)")
	addr := fs.String("addr", "localhost:8080", "address to listen on (port 0 picks a free one); a host name such as localhost stays in the portal's URL, as passkeys need")
	mmURL := fs.String("mattermost-url", "", "Mattermost site URL: turns on the slash command and the agent API")
	mmToken := fs.String("mattermost-bot-token", "", "Countersign's bot token on that Mattermost")
	mmCommandToken := fs.String("mattermost-command-token", "", "the token Mattermost generated for the /countersign slash command (Mattermost chooses it)")
	logRequests := fs.Bool("log-requests", false, "log every HTTP request in the terminal too (by default they go to DATA/"+demoAccessLogFile+", so the printed credentials stay in view)")
	mmAgentBot := fs.String("mattermost-agent-bot", demoAgentBotUsername, "username of the bot account that plays the demo agent on that Mattermost")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	listen, err := resolvePort(*addr)
	if err != nil {
		return &startupError{err: fmt.Errorf("demo: %w", err)}
	}
	cfg := DefaultConfig()
	cfg.Listen = listen
	cfg.DataDir = *dataDir
	cfg.Database = "sqlite:" + filepath.Join(*dataDir, "countersign.db")
	cfg.PublicURL = "http://" + publicAddr(*addr, listen)
	cfg.OIDC = OIDCConfig{
		Issuer: cfg.PublicURL + "/idp", ClientID: demoClientID, ClientSecret: randomSecret(),
		Scopes: []string{"profile", "email", "groups"}, RolesClaim: "groups", UsernameClaim: "preferred_username",
		RoleMap: map[string][]string{"sre": {"approver"}, "security": {"approver"}, "audit": {"auditor"}},
	}
	cfg.StepUp = StepUpConfig{MaxAge: Duration(5 * time.Minute), ACRValues: []string{demoidp.ACRMFA}}
	// The demo talks to a real Mattermost only when one is named in the
	// environment (COUNTERSIGN_MATTERMOST_*).
	if err := applyMattermostEnv(&cfg, env); err != nil {
		return err
	}
	chat, serviceClients := configureDemoChat(ctx, &cfg, demoChatFlags{url: *mmURL, botToken: *mmToken, commandToken: *mmCommandToken, agentBot: *mmAgentBot})
	ops, err := startDemoOps(&cfg, chat)
	if err != nil {
		return err
	}
	defer ops.stop()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return &startupError{err: fmt.Errorf("demo: data directory: %w", err)}
	}
	log := newLogger(stderr, cfg.Log.Level)
	accessLog, accessPath, closeAccess, err := demoAccessLog(*dataDir, cfg.Log.Level, *logRequests, log)
	if err != nil {
		return err
	}
	defer closeAccess()
	store, err := openStore(ctx, models.OpenOptions{DSN: cfg.Database, Logger: log})
	if err != nil {
		return err
	}
	defer store.Close()
	if cfg.Policy.File, err = writeDemoPolicy(*dataDir); err != nil {
		return err
	}
	rt, err := startPolicy(cfg.Policy, store, log)
	if err != nil {
		return err
	}
	// The example executor runs every demo action (see demoExecutor).
	exec, err := demoExecutor(&cfg)
	if err != nil {
		return err
	}
	p, bot, err := newPortal(ctx, cfg, log, store, rt, exampleexecutor.DefaultName)
	if err != nil {
		return err
	}
	// The seeded requests name people and channels (alice, #ops) that may
	// exist on a real Mattermost the demo is connected to: they are
	// recorded without chat messages.
	seeds := p.approvals.Unannounced()
	n, err := demodata.Seed(ctx, store, seeds, time.Now())
	if err != nil {
		return err
	}
	if n > 0 {
		m, err := seedPolicyRequests(ctx, seeds)
		if err != nil {
			return err
		}
		n += m
	}

	// A real OpenID provider, mounted in the portal's own server, with
	// fresh random passwords and TOTP secrets at every start.
	users, err := demoidp.GenerateUsers()
	if err != nil {
		return fmt.Errorf("demo: users: %w", err)
	}
	idp, err := demoidp.New(demoidp.Config{
		Issuer: cfg.OIDC.Issuer, Users: users, Logger: log,
		Clients: []demoidp.Client{{
			ID: demoClientID, Secret: cfg.OIDC.ClientSecret,
			RedirectURIs:           []string{cfg.PublicURL + "/auth/callback"},
			PostLogoutRedirectURIs: []string{cfg.PublicURL + "/"},
		}},
		ServiceClients: serviceClients,
	})
	if err != nil {
		return fmt.Errorf("demo: identity provider: %w", err)
	}
	// The server is not listening yet, so discovery runs in process.
	rp, err := relyingParty(ctx, cfg, inprocess.Client(idp), log)
	if err != nil {
		return err
	}
	// The demo's address may change between starts (port 0), so its log
	// has a fixed origin rather than one derived from the URL.
	cp, err := checkpointer(store, cfg, demoOrigin)
	if err != nil {
		return err
	}
	p.auth, p.checkpoints, p.example = signIn(cfg, rp, store, rt), cp, exec
	p.demoIdP, p.demoPrefix, p.accessLog = idp, idp.PathPrefix(), accessLog
	if p.inbound, err = chatRoutes(ctx, cfg, store, p.approvals, bot, rt, p.grants, inprocess.Client(idp)); err != nil {
		return err
	}
	if err := p.startMCP(ctx, rt, bot); err != nil {
		return err
	}
	if err := chat.createKey(ctx, store, cfg); err != nil {
		return fmt.Errorf("demo: agent key: %w", err)
	}
	// The seeded agent's requests end in a run once approved; it stops
	// before the store closes.
	agentCtx, stopAgent := context.WithCancel(ctx)
	agentDone := make(chan struct{})
	go func() { defer close(agentDone); newDemoAgent(store, p.grants, log).run(agentCtx, demoAgentInterval) }()
	defer func() { stopAgent(); <-agentDone }()
	// The URLs printed are the portal's own (a host name given in --addr
	// stays, as sign-in and passkeys need), on the port the listener took.
	host := strings.TrimPrefix(cfg.PublicURL, "http://")
	return p.serve(ctx, func(net.Addr) {
		fmt.Fprintf(stdout, "Countersign demo listening on http://%s\n", host)
		printTOTPQRCodes(stdout, users)
		fmt.Fprintf(stdout, "  data:     %s (SQLite; %d demo requests seeded this start)\n", cfg.Database, n)
		fmt.Fprintf(stdout, "  sign in:  http://%s/login  (demo identity provider at %s)\n", host, cfg.OIDC.Issuer)
		fmt.Fprintln(stdout, "Demo users (new passwords and TOTP secrets at every start; approvals need the TOTP code; QR codes above and at the sign-in's code step):")
		for _, u := range users {
			fmt.Fprintf(stdout, "  user %s (%s): password %s, TOTP secret %s\n", u.Username, strings.Join(u.Groups, ","), u.Password, u.TOTPSecret)
			if uri, err := u.OTPAuthURI(); err == nil {
				fmt.Fprintf(stdout, "       %s\n", uri)
			}
		}
		fmt.Fprintf(stdout, "  policy:   %s (%s; edit it and it reloads; check it with: countersign policy lint %s)\n", cfg.Policy.File, rt.status().Ref, cfg.Policy.File)
		if p.passkeys != nil {
			fmt.Fprintf(stdout, "  passkeys: enrol one at http://%s/passkeys (the policy's prod-db-passkey rule accepts only passkey-signed decisions)\n", host)
		} else {
			fmt.Fprintln(stdout, "  passkeys: off (they need a host name such as localhost in --addr, not an IP address)")
		}
		fmt.Fprintf(stdout, "  audit:    verifier key at http://%s/.well-known/countersign-audit-key\n", host)
		fmt.Fprintf(stdout, "  grants:   keys at http://%s/.well-known/jwks.json, example executor at http://%s%s\n", host, host, handlers.ExampleExecutorPath)
		chat.print(stdout, cfg)
		ops.print(stdout, host, chat)
		fmt.Fprintf(stdout, "  health:   http://%s/healthz\n", host)
		if accessPath != "" {
			fmt.Fprintf(stdout, "  requests: logged to %s (start with --log-requests to see them here; errors are shown here)\n", accessPath)
		}
		fmt.Fprintf(stdout, "  verify:   go run ./cmd/countersign audit verify --db %s\n", cfg.Database)
		fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
	})
}

// resolvePort turns port 0 into a free port: the demo's issuer and redirect
// URLs must name the real port before the server starts.
func resolvePort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--addr %q: %w", addr, err)
	}
	if port != "0" {
		return addr, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("--addr %q: %w", addr, err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// publicAddr is the host and port of the demo's URL: the host named in
// --addr when it is a name (passkeys need a domain, never an IP address,
// as their relying party), with the port listen resolved.
func publicAddr(addr, listen string) string {
	host, _, err := net.SplitHostPort(addr)
	_, port, err2 := net.SplitHostPort(listen)
	if err != nil || err2 != nil || host == "" || net.ParseIP(host) != nil {
		return listen
	}
	return net.JoinHostPort(host, port)
}

// randomSecret returns a fresh client secret for the demo provider.
func randomSecret() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// demoExecutor configures the example executor as the demo's only
// executor, with a fresh credential at every start, and returns it.
func demoExecutor(cfg *Config) (*exampleexecutor.Executor, error) {
	token := randomSecret()
	cfg.Executors = ExecutorsConfig{exampleexecutor.DefaultName: {URL: cfg.PublicURL + handlers.ExampleExecutorPath, Token: token, Timeout: Duration(10 * time.Second), MaxAttempts: 3}}
	x, err := exampleexecutor.New(exampleexecutor.Config{Name: exampleexecutor.DefaultName, Issuer: cfg.PublicURL, Token: token})
	if err != nil {
		return nil, fmt.Errorf("demo: example executor: %w", err)
	}
	return x, nil
}

// printTOTPQRCodes prints each demo user's otpauth URL as a terminal QR
// code, before the summary, so the passwords and addresses stay the last
// lines on screen.
func printTOTPQRCodes(w io.Writer, users []demoidp.User) {
	fmt.Fprintln(w, "Authenticator QR codes (scan with an authenticator app; the same otpauth links are printed below):")
	for _, u := range users {
		qr, err := u.OTPAuthQR()
		if err != nil {
			continue
		}
		fmt.Fprintf(w, "  %s\n%s", u.Username, qr)
	}
}
