package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/web/mattermost/mmfake"
)

// TestDemoConnectsToAMattermost: the demo takes the slash command's token
// Mattermost generated, finds its agent's bot by username (sponsored by
// the bot's owner), and records its seeded requests without a single chat
// message, so nobody on a real server hears about made-up requests.
func TestDemoConnectsToAMattermost(t *testing.T) {
	fake := mmfake.New(t)
	owner := fake.AddHuman("dana")
	agentBot := fake.AddBot("deploy-bot", owner.Id)
	bot := fake.AddBot("countersign", owner.Id)
	fake.Grant(bot.Id, model.PermissionReadOthersBots.Id)
	const commandToken = "mattermostgeneratedtoken26" // Mattermost's own, 26 characters
	data := filepath.Join(t.TempDir(), "demo")
	base, stdout, stop := startServer(t, nil, "demo", "--data", data, "--addr", "127.0.0.1:0",
		"--mattermost-url", fake.URL(), "--mattermost-bot-token", fake.NewToken(bot.Id), "--mattermost-command-token", commandToken)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	// The start prints its notes after the listening line.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stdout.String(), "agent") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	out := stdout.String()
	if !strings.Contains(out, "agent deploy-bot (bot user "+agentBot.Id+", sponsor dana)") {
		t.Fatalf("the demo did not find its agent's bot by username:\n%s", out)
	}
	if strings.Contains(out, "which no real Mattermost sends") {
		t.Errorf("a given command token reported as made up:\n%s", out)
	}
	// The slash command accepts Mattermost's token, and no other.
	for token, want := range map[string]int{commandToken: http.StatusOK, "somethingelse0000000000000": http.StatusUnauthorized} {
		resp, err := mmfake.SlashCommand(base+"/hooks/mattermost/command", token, mmfake.CommandFields{
			TeamID: mmfake.TeamID, ChannelID: mmfake.ChannelID, UserID: owner.Id, UserName: "dana", Command: "/countersign", Text: "help",
		})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("slash command with token %q: %d, want %d", token, resp.StatusCode, want)
		}
	}
	stopped = true
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	store, err := models.Open(context.Background(), models.OpenOptions{DSN: "sqlite:" + filepath.Join(data, "countersign.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var requests, messages int64
	store.DB(context.Background()).Model(&models.Request{}).Count(&requests)
	store.DB(context.Background()).Table("outbox_messages").Count(&messages)
	var kinds []string
	store.DB(context.Background()).Table("outbox_messages").Pluck("kind || ':' || request_id", &kinds)
	if requests == 0 || messages != 0 {
		t.Logf("queued: %v", kinds)
		t.Fatalf("%d seeded requests queued %d chat messages, want none", requests, messages)
	}
}
