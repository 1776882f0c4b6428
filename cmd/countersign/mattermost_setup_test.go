package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/handlers"
	"github.com/countersign/countersign/web/mattermost/mmreal"
)

// TestMattermostSetupAgainstTheRealServer: with an admin's token, setup
// creates the bot and its token, puts it in the team and a channel,
// registers the slash command at public_url and prints the configuration
// with the token Mattermost generated; run again, it keeps what is right
// (the same command, the bot token it is given) and duplicates nothing.
func TestMattermostSetupAgainstTheRealServer(t *testing.T) {
	srv := mmreal.Shared(t)
	w := srv.NewWorld(t, "alice")
	bot := "cs-" + w.Suffix
	publicURL := "http://127.0.0.1:18999"
	setup := func(extra ...string) (int, string, string) {
		var o, e bytes.Buffer
		args := append([]string{"mattermost", "setup", "--url", srv.URL, "--public-url", publicURL, "--team", w.Team.Name,
			"--bot", bot, "--trigger", "cs" + w.Suffix}, extra...)
		code := run(context.Background(), args, &o, &e, []string{"MATTERMOST_ADMIN_TOKEN=" + srv.Admin.Client.AuthToken})
		return code, o.String(), e.String()
	}
	code, out, errOut := setup("--channel", w.Channel.Name)
	if code != exitOK {
		t.Fatalf("setup: exit %d\n%s%s", code, out, errOut)
	}
	token := regexp.MustCompile(`bot_token: (\S+)`).FindStringSubmatch(out)
	cmdToken := regexp.MustCompile(`command_tokens: \[(\S+)\]`).FindStringSubmatch(out)
	if token == nil || cmdToken == nil || !strings.Contains(out, "site_url: "+srv.URL) || !strings.Contains(out, "created the bot @"+bot) {
		t.Fatalf("setup printed:\n%s", out)
	}
	ctx := context.Background()
	admin := srv.Admin.Client
	// The bot token works and is the bot's.
	bc := model.NewAPIv4Client(srv.URL)
	bc.SetToken(token[1])
	me, _, err := bc.GetMe(ctx, "")
	if err != nil || me.Username != bot || !me.IsBot {
		t.Fatalf("the printed bot token: %+v %v", me, err)
	}
	// In the team and the channel.
	if _, _, err := admin.GetChannelMember(ctx, w.Channel.Id, me.Id, ""); err != nil {
		t.Errorf("bot not in ~%s: %v", w.Channel.Name, err)
	}
	// The slash command points at the portal, with the printed token.
	cmds, _, err := admin.ListCommands(ctx, w.Team.Id, true)
	if err != nil {
		t.Fatal(err)
	}
	var found []*model.Command
	for _, c := range cmds {
		if c.Trigger == "cs"+w.Suffix {
			found = append(found, c)
		}
	}
	if len(found) != 1 || found[0].URL != publicURL+handlers.CommandPath || found[0].Token != cmdToken[1] || found[0].Method != model.CommandMethodPost {
		t.Fatalf("slash commands %+v, want one at %s with token %s", found, publicURL+handlers.CommandPath, cmdToken[1])
	}
	// What people must still do: the bot cannot read other bots.
	if !strings.Contains(out, "missing: @"+bot+" cannot read other bots' records") {
		t.Errorf("setup does not say what is missing:\n%s", out)
	}

	// Again, keeping the bot's token and writing the file: nothing new.
	file := filepath.Join(t.TempDir(), "mattermost.yaml")
	code, out, errOut = setup("--bot-token", token[1], "--write", file)
	if code != exitOK || !strings.Contains(out, "the bot @"+bot+" exists") || !strings.Contains(out, "kept the bot token given") ||
		!strings.Contains(out, "already points at") || !strings.Contains(out, "is in no channel yet") {
		t.Fatalf("second setup: exit %d\n%s%s", code, out, errOut)
	}
	written, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 || !strings.Contains(string(written), "bot_token: "+token[1]) || !strings.Contains(string(written), cmdToken[1]) {
		t.Fatalf("written configuration (mode %v):\n%s", fi.Mode().Perm(), written)
	}
	cmds, _, _ = admin.ListCommands(ctx, w.Team.Id, true)
	n := 0
	for _, c := range cmds {
		if c.Trigger == "cs"+w.Suffix {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d slash commands after a second setup, want 1", n)
	}

	// A person's token is refused before anything changes.
	var o, e bytes.Buffer
	code = run(ctx, []string{"mattermost", "setup", "--url", srv.URL, "--public-url", publicURL, "--team", w.Team.Name, "--bot", "cs2-" + w.Suffix},
		&o, &e, []string{"MATTERMOST_ADMIN_TOKEN=" + w.Person("alice").Client.AuthToken})
	if code == exitOK || !strings.Contains(e.String(), "is not a system admin") {
		t.Fatalf("setup with a person's token: exit %d %s", code, e.String())
	}
	if _, _, err := admin.GetUserByUsername(ctx, "cs2-"+w.Suffix, ""); err == nil {
		t.Fatal("a refused setup created a bot")
	}
}
