package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/handlers"
)

const mattermostUsage = `Usage:
  countersign mattermost setup --url URL --public-url URL --team NAME [--channel NAME]...
                               [--bot USERNAME] [--bot-token TOKEN] [--trigger WORD] [--write FILE]
      With a system admin's token (MATTERMOST_ADMIN_TOKEN, or --admin-token), create or
      check Countersign's bot account and its token, add it to the team and channels,
      register the slash command pointing at public_url, and print (or write, mode 0600)
      the configuration with the token Mattermost generated. Then list what is still
      missing. Run it again at any time: it changes only what differs.
`

// setupFlags are the answers mattermost setup works from.
type setupFlags struct {
	siteURL, adminToken, publicURL, team, bot, botToken, trigger, write string
	channels                                                            []string
}

func cmdMattermost(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) error {
	if len(args) == 0 || args[0] != "setup" {
		if wantsHelp(args) {
			fmt.Fprint(stdout, mattermostUsage)
			return nil
		}
		return &usageError{msg: "mattermost: expected setup (try: countersign mattermost help)"}
	}
	fs := newFlagSet("mattermost setup", "--url URL --public-url URL --team NAME", stderr)
	var f setupFlags
	fs.StringVar(&f.siteURL, "url", "", "Mattermost's address, e.g. https://chat.example.com")
	fs.StringVar(&f.adminToken, "admin-token", "", "a system admin's access token (better: MATTERMOST_ADMIN_TOKEN, which stays out of the process list)")
	fs.StringVar(&f.publicURL, "public-url", "", "Countersign's public_url: Mattermost calls the slash command there")
	fs.StringVar(&f.team, "team", "", "the team (its name, as in URLs) the slash command is registered in")
	fs.StringVar(&f.bot, "bot", "countersign", "username of Countersign's bot account")
	fs.StringVar(&f.botToken, "bot-token", "", "the bot's existing token, to keep it (checked); without it a new token is made")
	fs.StringVar(&f.trigger, "trigger", "countersign", "the slash command's trigger word")
	fs.StringVar(&f.write, "write", "", "write the configuration to this file (mode 0600) instead of printing it")
	fs.Func("channel", "a channel (name) to add the bot to; repeat for several", func(s string) error {
		f.channels = append(f.channels, s)
		return nil
	})
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if f.adminToken == "" {
		f.adminToken = envValue(env, "MATTERMOST_ADMIN_TOKEN")
	}
	for name, v := range map[string]string{"--url": f.siteURL, "--public-url": f.publicURL, "--team": f.team, "admin token (MATTERMOST_ADMIN_TOKEN or --admin-token)": f.adminToken} {
		if v == "" {
			return &usageError{msg: "mattermost setup: " + name + " is required"}
		}
	}
	for name, raw := range map[string]string{"--url": f.siteURL, "--public-url": f.publicURL} {
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return &usageError{msg: fmt.Sprintf("mattermost setup: %s %q must be an absolute http(s) URL", name, raw)}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res, err := mattermostSetup(ctx, f)
	if err != nil {
		return err
	}
	return res.report(stdout, f)
}

// envValue returns the value of name in env ("" when absent).
func envValue(env []string, name string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// setupResult is what setup did and found.
type setupResult struct {
	siteURL, botID, botToken, commandToken string
	done, missing                          []string
}

// mattermostSetup does the work through model.Client4 with the admin's
// token. Every step first looks at what exists, so a second run changes
// nothing that is already right.
func mattermostSetup(ctx context.Context, f setupFlags) (*setupResult, error) {
	site := strings.TrimRight(f.siteURL, "/")
	admin := model.NewAPIv4Client(site)
	admin.SetToken(f.adminToken)
	me, _, err := admin.GetMe(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("mattermost setup: the admin token does not work at %s: %w", site, err)
	}
	if !strings.Contains(" "+me.Roles+" ", " "+model.SystemAdminRoleId+" ") {
		return nil, fmt.Errorf("mattermost setup: @%s is not a system admin; bots and slash commands need one", me.Username)
	}
	res := &setupResult{siteURL: site}
	team, _, err := admin.GetTeamByName(ctx, f.team, "")
	if err != nil {
		return nil, fmt.Errorf("mattermost setup: team %q: %w", f.team, err)
	}
	if err := res.ensureBot(ctx, admin, f); err != nil {
		return nil, err
	}
	if _, _, err := admin.AddTeamMember(ctx, team.Id, res.botID); err != nil {
		return nil, fmt.Errorf("mattermost setup: add @%s to team %s: %w", f.bot, team.Name, err)
	}
	for _, name := range f.channels {
		ch, _, err := admin.GetChannelByName(ctx, name, team.Id, "")
		if err != nil {
			return nil, fmt.Errorf("mattermost setup: channel %q in team %s: %w", name, team.Name, err)
		}
		if _, _, err := admin.AddChannelMember(ctx, ch.Id, res.botID); err != nil {
			return nil, fmt.Errorf("mattermost setup: add @%s to ~%s: %w", f.bot, name, err)
		}
		res.done = append(res.done, fmt.Sprintf("@%s is in ~%s", f.bot, name))
	}
	if err := res.ensureCommand(ctx, admin, team, f); err != nil {
		return nil, err
	}
	res.check(ctx, admin, f)
	return res, nil
}

// ensureBot finds or creates the bot account (enabling it when disabled)
// and keeps the token given, when it still belongs to the bot, or makes a
// new one.
func (res *setupResult) ensureBot(ctx context.Context, admin *model.Client4, f setupFlags) error {
	u, resp, err := admin.GetUserByUsername(ctx, f.bot, "")
	switch {
	case err == nil && !u.IsBot:
		return fmt.Errorf("mattermost setup: @%s is a person's account, not a bot; choose another --bot", f.bot)
	case err == nil:
		res.botID = u.Id
		if u.DeleteAt != 0 {
			if _, _, err := admin.EnableBot(ctx, u.Id); err != nil {
				return fmt.Errorf("mattermost setup: enable bot @%s: %w", f.bot, err)
			}
			res.done = append(res.done, "enabled the bot @"+f.bot)
		} else {
			res.done = append(res.done, "the bot @"+f.bot+" exists")
		}
	case resp != nil && resp.StatusCode == 404:
		b, _, err := admin.CreateBot(ctx, &model.Bot{Username: f.bot, DisplayName: "Countersign", Description: "Approval portal: captures requests and tells how they were decided"})
		if err != nil {
			return fmt.Errorf("mattermost setup: create bot @%s (is EnableBotAccountCreation on?): %w", f.bot, err)
		}
		res.botID = b.UserId
		res.done = append(res.done, "created the bot @"+f.bot)
	default:
		return fmt.Errorf("mattermost setup: look up @%s: %w", f.bot, err)
	}
	if f.botToken != "" {
		c := model.NewAPIv4Client(res.siteURL)
		c.SetToken(f.botToken)
		if bu, _, err := c.GetMe(ctx, ""); err == nil && bu.Id == res.botID {
			res.botToken = f.botToken
			res.done = append(res.done, "kept the bot token given")
			return nil
		}
		res.done = append(res.done, "the bot token given does not belong to @"+f.bot+": made a new one")
	}
	tok, _, err := admin.CreateUserAccessToken(ctx, res.botID, "countersign "+time.Now().UTC().Format("2006-01-02"), 0)
	if err != nil {
		return fmt.Errorf("mattermost setup: token for @%s (are personal access tokens enabled?): %w", f.bot, err)
	}
	res.botToken = tok.Token
	res.done = append(res.done, "made a token for @"+f.bot)
	return nil
}

// ensureCommand registers the slash command at public_url, or updates the
// existing one with the same trigger when its address differs. Mattermost
// generates the command's token; it is what Countersign must accept.
func (res *setupResult) ensureCommand(ctx context.Context, admin *model.Client4, team *model.Team, f setupFlags) error {
	target := strings.TrimRight(f.publicURL, "/") + handlers.CommandPath
	cmds, _, err := admin.ListCommands(ctx, team.Id, true)
	if err != nil {
		return fmt.Errorf("mattermost setup: list slash commands of %s: %w", team.Name, err)
	}
	for _, c := range cmds {
		if c.Trigger != f.trigger || c.DeleteAt != 0 {
			continue
		}
		if c.URL != target || c.Method != model.CommandMethodPost {
			c.URL, c.Method = target, model.CommandMethodPost
			if c, _, err = admin.UpdateCommand(ctx, c); err != nil {
				return fmt.Errorf("mattermost setup: update /%s: %w", f.trigger, err)
			}
			res.done = append(res.done, fmt.Sprintf("pointed /%s at %s", f.trigger, target))
		} else {
			res.done = append(res.done, fmt.Sprintf("/%s already points at %s", f.trigger, target))
		}
		res.commandToken = c.Token
		return nil
	}
	c, _, err := admin.CreateCommand(ctx, &model.Command{
		TeamId: team.Id, Trigger: f.trigger, Method: model.CommandMethodPost, URL: target,
		DisplayName: "Countersign", Description: "Ask for approval of an operational action",
		AutoComplete: true, AutoCompleteDesc: "Ask for approval: /" + f.trigger + " ACTION key=value -- why", AutoCompleteHint: "help",
	})
	if err != nil {
		return fmt.Errorf("mattermost setup: create /%s: %w", f.trigger, err)
	}
	res.commandToken = c.Token
	res.done = append(res.done, fmt.Sprintf("registered /%s at %s", f.trigger, target))
	return nil
}

// check lists what setup could not do and people must: the server's
// untrusted-connection setting for a portal on a private address, the
// permission to read other bots, channels.
func (res *setupResult) check(ctx context.Context, admin *model.Client4, f setupFlags) {
	pub, _ := url.Parse(f.publicURL)
	if host := pub.Hostname(); privateHost(host) {
		cfg, _, err := admin.GetConfig(ctx)
		switch {
		case err != nil:
			res.missing = append(res.missing, "could not read the server configuration to check AllowedUntrustedInternalConnections: "+err.Error())
		case cfg.ServiceSettings.AllowedUntrustedInternalConnections == nil || !containsField(*cfg.ServiceSettings.AllowedUntrustedInternalConnections, host):
			res.missing = append(res.missing, fmt.Sprintf("Mattermost refuses to call %s (a private address) until it is listed in ServiceSettings.AllowedUntrustedInternalConnections (System Console → Environment → Developer)", host))
		}
	}
	bot, _, err := admin.GetUser(ctx, res.botID, "")
	if err == nil && !strings.Contains(" "+bot.Roles+" ", " "+model.SystemAdminRoleId+" ") {
		res.missing = append(res.missing, fmt.Sprintf("@%s cannot read other bots' records (read_others_bots, system admins only by default): captured bot posts will show \"owner unknown\"", f.bot))
	}
	if len(f.channels) == 0 {
		res.missing = append(res.missing, fmt.Sprintf("@%s is in no channel yet: add it where people use /%s or agents propose (/invite @%s, or --channel)", f.bot, f.trigger, f.bot))
	}
}

// privateHost reports whether host is loopback, private or link-local
// (Mattermost calls such addresses only when allowed).
func privateHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast())
}

// containsField reports whether the space-separated list holds s.
func containsField(list, s string) bool {
	for _, f := range strings.Fields(strings.ReplaceAll(list, ",", " ")) {
		if f == s {
			return true
		}
	}
	return false
}

// report prints what was done, the configuration (or writes it), and
// what is missing.
func (res *setupResult) report(w io.Writer, f setupFlags) error {
	for _, d := range res.done {
		fmt.Fprintln(w, "done:", d)
	}
	cfg := fmt.Sprintf("mattermost:\n  site_url: %s\n  bot_token: %s\n  command_tokens: [%s]\n", res.siteURL, res.botToken, res.commandToken)
	if f.write != "" {
		if err := os.WriteFile(f.write, []byte(cfg), 0o600); err != nil {
			return fmt.Errorf("mattermost setup: write %s: %w", f.write, err)
		}
		fmt.Fprintf(w, "wrote %s (mode 0600; it holds the bot token): merge it into the configuration, or give the token as COUNTERSIGN_MATTERMOST_BOT_TOKEN\n", f.write)
	} else {
		fmt.Fprint(w, "\n# Countersign configuration (the bot token is a secret: prefer COUNTERSIGN_MATTERMOST_BOT_TOKEN)\n"+cfg+"\n")
	}
	if len(res.missing) == 0 {
		fmt.Fprintln(w, "nothing missing")
		return nil
	}
	for _, m := range res.missing {
		fmt.Fprintln(w, "missing:", m)
	}
	return nil
}
