package mmreal

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// User is a Mattermost account with its password and a signed-in client.
type User struct {
	*model.User
	// Password is the account's password.
	Password string
	// Client is signed in as the user.
	Client *model.Client4
}

// Bot is Countersign's bot account: its user, owned by the administrator,
// and the access token Countersign is configured with.
type Bot struct {
	User *model.User
	// Token is a user access token of the bot (mattermost.bot_token).
	Token string
	// Client uses Token.
	Client *model.Client4
}

// World is one test's corner of the server: a team with a channel "ops",
// people, Countersign's bot, and an incoming webhook into ops. Every name
// carries the world's suffix, so worlds on a shared server never meet.
type World struct {
	Server *Server
	// Suffix ends every name of this world (usernames are name-suffix).
	Suffix  string
	Team    *model.Team
	Channel *model.Channel
	Bot     *Bot
	// Webhook posts into Channel; the administrator created it, so its
	// posts carry the administrator's user id.
	Webhook *model.IncomingWebhook

	t      testing.TB
	people map[string]*User
}

// callTimeout bounds each API call of the harness.
const callTimeout = 30 * time.Second

func (w *World) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), callTimeout)
}

// NewWorld creates a team, its channel "ops", the people (each a member of
// both, named person-suffix), Countersign's bot (member of both, with an
// access token) and an incoming webhook into ops.
func (s *Server) NewWorld(t testing.TB, people ...string) *World {
	t.Helper()
	w := &World{Server: s, t: t, Suffix: strings.ToLower(rand.Text()[:6]), people: map[string]*User{}}
	ctx, cancel := w.ctx()
	defer cancel()
	admin := s.Admin.Client
	var err error
	w.Team, _, err = admin.CreateTeam(ctx, &model.Team{Name: "team-" + w.Suffix, DisplayName: "Team " + w.Suffix, Type: model.TeamOpen})
	w.must(err, "create team")
	_, _, err = admin.AddTeamMember(ctx, w.Team.Id, s.Admin.Id)
	w.must(err, "admin joins team")
	w.Channel = w.NewChannel("ops")
	for _, name := range people {
		w.AddPerson(name)
	}
	w.Bot = w.newBot("countersign")
	w.Webhook, _, err = admin.CreateIncomingWebhook(ctx, &model.IncomingWebhook{ChannelId: w.Channel.Id, DisplayName: "alerts"})
	w.must(err, "create incoming webhook")
	return w
}

// must fails the test when err is not nil.
func (w *World) must(err error, what string) {
	w.t.Helper()
	if err != nil {
		w.t.Fatalf("mmreal: %s: %v", what, err)
	}
}

// Name is name with the world's suffix, as the server knows it.
func (w *World) Name(name string) string { return name + "-" + w.Suffix }

// NewChannel creates an open channel of the team with the administrator,
// everyone added so far and the bot as members.
func (w *World) NewChannel(name string) *model.Channel {
	w.t.Helper()
	ctx, cancel := w.ctx()
	defer cancel()
	ch, _, err := w.Server.Admin.Client.CreateChannel(ctx, &model.Channel{TeamId: w.Team.Id, Name: name, DisplayName: name, Type: model.ChannelTypeOpen})
	w.must(err, "create channel "+name)
	for _, p := range w.people {
		_, _, err := w.Server.Admin.Client.AddChannelMember(ctx, ch.Id, p.Id)
		w.must(err, "add "+p.Username+" to "+name)
	}
	if w.Bot != nil {
		_, _, err := w.Server.Admin.Client.AddChannelMember(ctx, ch.Id, w.Bot.User.Id)
		w.must(err, "add the bot to "+name)
	}
	return ch
}

// AddPerson creates name-suffix with a password, adds them to the team
// and to Channel, and signs them in.
func (w *World) AddPerson(name string) *User {
	w.t.Helper()
	ctx, cancel := w.ctx()
	defer cancel()
	admin := w.Server.Admin.Client
	username := w.Name(name)
	u, _, err := admin.CreateUser(ctx, &model.User{Username: username, Email: username + "@example.com", Password: password, FirstName: strings.ToUpper(name[:1]) + name[1:]})
	w.must(err, "create user "+username)
	_, _, err = admin.AddTeamMember(ctx, w.Team.Id, u.Id)
	w.must(err, "add "+username+" to the team")
	_, _, err = admin.AddChannelMember(ctx, w.Channel.Id, u.Id)
	w.must(err, "add "+username+" to "+w.Channel.Name)
	p, err := w.Server.login(ctx, u)
	w.must(err, "sign in "+username)
	w.people[name] = p
	return p
}

// Person returns the person created as name (without the suffix).
func (w *World) Person(name string) *User {
	w.t.Helper()
	p, ok := w.people[name]
	if !ok {
		w.t.Fatalf("mmreal: no person %q in this world", name)
	}
	return p
}

// NewBot creates another bot of the world (an agent's account, say),
// owned by the administrator, a member of the team and Channel, with a
// user access token.
func (w *World) NewBot(name string) *Bot {
	w.t.Helper()
	return w.newBot(name)
}

// newBot creates a bot owned by the administrator, a member of the team
// and Channel, with a user access token.
func (w *World) newBot(name string) *Bot {
	w.t.Helper()
	ctx, cancel := w.ctx()
	defer cancel()
	admin := w.Server.Admin.Client
	b, _, err := admin.CreateBot(ctx, &model.Bot{Username: w.Name(name), DisplayName: "Countersign"})
	w.must(err, "create bot")
	u, _, err := admin.GetUser(ctx, b.UserId, "")
	w.must(err, "read the bot's user")
	_, _, err = admin.AddTeamMember(ctx, w.Team.Id, u.Id)
	w.must(err, "add the bot to the team")
	_, _, err = admin.AddChannelMember(ctx, w.Channel.Id, u.Id)
	w.must(err, "add the bot to "+w.Channel.Name)
	tok, _, err := admin.CreateUserAccessToken(ctx, u.Id, "countersign", 0)
	w.must(err, "create the bot's access token")
	c := model.NewAPIv4Client(w.Server.URL)
	c.SetToken(tok.Token)
	return &Bot{User: u, Token: tok.Token, Client: c}
}

// CreateCommand registers the custom slash command /trigger in the team,
// sent by POST to url, and returns it; its Token is the one Mattermost
// generated, which Countersign must be configured with.
func (w *World) CreateCommand(trigger, url string) *model.Command {
	w.t.Helper()
	ctx, cancel := w.ctx()
	defer cancel()
	cmd, _, err := w.Server.Admin.Client.CreateCommand(ctx, &model.Command{
		TeamId: w.Team.Id, Trigger: trigger, Method: model.CommandMethodPost, URL: url,
		DisplayName: trigger, AutoComplete: true, AutoCompleteHint: "[action] [args] -- purpose",
	})
	w.must(err, "create slash command /"+trigger)
	return cmd
}
