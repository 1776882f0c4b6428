package mmfake

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"
)

// The cast of the captured fixtures (testdata/README.md), so tests name
// people instead of repeating random ids.
const (
	AdminID    = "g54r5jzrrbba9bhss5p8zfo5zo" // system admin; owns testbot, the commands and the webhook
	AliceID    = "szhbzstp3idmue387hjxadrjuw"
	BobID      = "nczzemc3wtymbn485zozgc7w7c"
	CarolID    = "a85np16fk3r7tceghtiyxfweow" // her reply was deleted
	TestbotID  = "6cex5ukfajfc8pbu3ewqd6i3ow" // bot account, owner = admin
	TeamID     = "7csabjb9hb8z9ksdg83ew7iw8e" // team "testteam"
	ChannelID  = "nq3bgrqu8in6xyd1x9nr6bemue" // channel "fixture-chan"
	RootPostID = "bwhaznx8ujbmfdw1xpbpz5sezw" // alice's thread root

	BotReplyPostID       = "abrf4dowitftppj5mykxpqf9yc" // testbot's reply (props.from_bot)
	EditedPostID         = "6e39y13w7tbc8bs9w8mnqkem6e" // bob's edited reply
	DeletedPostID        = "kz3167zj67bgtxt8q796f7674o" // carol's deleted reply
	WebhookPostID        = "53r6yo747pdepgmesqbnqa77br" // webhook post, top-level, override_username "alice"
	CommandReplyPostID   = "qrqn6b3ni3bauqc1ouci16wz5o" // slash-command reply, alice's id
	ImpersonatingReplyID = "bj554abytibhfyyf5q1xeqmoto" // slash-command reply, alice's id shown as "bob"
	ButtonPostID         = "wfb98w3hu3fnimryoupkamjkrr" // testbot's button post, updated by the integration
)

// fixtureFS holds the captured payloads. It is read-only data compiled
// into the test binaries that import this package, so tests in any
// package get the same bytes without locating files on disk.
//
//go:embed testdata/*.json
var fixtureFS embed.FS

// Fixture returns the raw bytes of one captured file, e.g.
// "thread-postlist.json".
func Fixture(name string) ([]byte, error) {
	b, err := fixtureFS.ReadFile("testdata/" + name)
	if err != nil {
		return nil, fmt.Errorf("mmfake: fixture %s: %w", name, err)
	}
	return b, nil
}

// FixtureNames lists the captured files, sorted.
func FixtureNames() []string {
	entries, _ := fs.ReadDir(fixtureFS, "testdata")
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// DecodeFixture decodes one captured file into v (a model type).
func DecodeFixture(name string, v any) error {
	b, err := Fixture(name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("mmfake: decode fixture %s: %w", name, err)
	}
	return nil
}

// LoadFixtures loads the world as it stood at the end of the capture
// session: the cast, team testteam, channel fixture-chan with all five as
// members, every post of channel-postlist.json and carol's deleted reply.
// Only alice and testbot were captured as user records; admin, bob and
// carol are made from alice's record with their own ids and names. No
// token is issued: use AddToken or NewToken.
func (s *Server) LoadFixtures() error {
	var alice, testbot model.User
	var bot model.Bot
	var team model.Team
	var channel model.Channel
	var list model.PostList
	var deleted model.Post
	for name, v := range map[string]any{
		"user-human.json": &alice, "user-bot.json": &testbot, "bot.json": &bot, "team.json": &team,
		"channel.json": &channel, "channel-postlist.json": &list, "deleted-post-admin.json": &deleted,
	} {
		if err := DecodeFixture(name, v); err != nil {
			return err
		}
	}
	s.AddUser(&alice)
	s.AddUser(&testbot)
	s.AddBotRecord(&bot)
	for _, c := range []struct{ id, name, roles string }{
		{AdminID, "admin", model.SystemAdminRoleId + " " + model.SystemUserRoleId},
		{BobID, "bob", model.SystemUserRoleId},
		{CarolID, "carol", model.SystemUserRoleId},
	} {
		u := alice.DeepCopy()
		u.Id, u.Username, u.Email, u.Nickname, u.FirstName, u.Roles = c.id, c.name, c.name+"@example.com", "", c.name, c.roles
		s.AddUser(u)
	}
	s.AddTeam(&team)
	s.AddChannel(&channel, AdminID, AliceID, BobID, CarolID, TestbotID)
	for _, id := range list.Order {
		s.AddPost(list.Posts[id])
	}
	s.AddPost(&deleted)
	return nil
}
