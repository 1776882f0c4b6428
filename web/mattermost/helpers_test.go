package mattermost

import (
	"log/slog"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/mattermost/mmfake"
)

// captureEnd is just after the last post of the captured session, so the
// fixture posts are inside the default 24 h window.
var captureEnd = time.UnixMilli(1795768872850).Add(time.Minute)

// env is a fake Mattermost loaded with the captured world plus
// Countersign's own bot account ("countersign", owned by admin, member of
// fixture-chan, allowed to read others' bots), and a Client for it.
type env struct {
	fake   *mmfake.Server
	client *Client
	botID  string
	token  string
	logs   *storetest.SyncBuffer
}

// newEnv builds the environment; tweak adjusts the Config first.
func newEnv(t *testing.T, tweak func(*Config)) *env {
	t.Helper()
	fake := mmfake.New(t)
	if err := fake.LoadFixtures(); err != nil {
		t.Fatal(err)
	}
	bot := fake.AddBot("countersign", mmfake.AdminID)
	fake.AddMember(mmfake.ChannelID, bot.Id)
	fake.Grant(bot.Id, model.PermissionReadOthersBots.Id)
	e := &env{fake: fake, botID: bot.Id, token: fake.NewToken(bot.Id), logs: &storetest.SyncBuffer{}}
	cfg := Config{
		SiteURL: fake.URL(), BotToken: e.token,
		CallTimeout: 2 * time.Second, BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    func() time.Time { return captureEnd },
	}
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	return e
}
