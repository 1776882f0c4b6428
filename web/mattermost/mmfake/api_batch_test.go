package mmfake

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
)

// postRaw posts a JSON body to an API path with token and returns status
// and body.
func postRaw(t *testing.T, s *Server, token, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, s.URL()+"/api/v4"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

// POST /users/ids answers []*model.User: each user as GET /users/{id}
// serves it (so as user-human.json), unknown ids left out, deactivated
// accounts included.
func TestUsersByIds(t *testing.T) {
	s, bot, _ := fixtureWorld(t)
	gone := s.AddUser(&model.User{Username: "gone", DeleteAt: 1795768800000})
	unknown := strings.Repeat("z", 26)
	users, _, err := s.Client(bot).GetUsersByIds(context.Background(), []string{AliceID, TestbotID, unknown, gone.Id, AliceID})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*model.User{}
	for _, u := range users {
		byID[u.Id] = u
	}
	if len(users) != 3 || byID[AliceID] == nil || byID[TestbotID] == nil || byID[gone.Id] == nil {
		t.Fatalf("users %v", byID)
	}
	if byID[AliceID].IsBot || !byID[TestbotID].IsBot || byID[gone.Id].DeleteAt == 0 {
		t.Errorf("alice bot %v, testbot bot %v, gone delete_at %d", byID[AliceID].IsBot, byID[TestbotID].IsBot, byID[gone.Id].DeleteAt)
	}
	status, body := postRaw(t, s, bot, "/users/ids", `["`+AliceID+`"]`)
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); status != 200 || err != nil || len(raw) != 1 {
		t.Fatalf("raw answer %d %s", status, body)
	}
	assertServedAs(t, "user-human.json", raw[0])
}

// POST /channels/{id}/members/ids answers model.ChannelMembers for the
// members among the ids, and needs read access to the channel.
func TestChannelMembersByIds(t *testing.T) {
	s, bot, _ := fixtureWorld(t)
	c := s.Client(bot)
	ctx := context.Background()
	s.RemoveMember(ChannelID, BobID)
	members, _, err := c.GetChannelMembersByIds(ctx, ChannelID, []string{AliceID, BobID, CarolID, strings.Repeat("z", 26)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, m := range members {
		if m.ChannelId != ChannelID {
			t.Errorf("member of %s", m.ChannelId)
		}
		got[m.UserId] = true
	}
	if len(members) != 2 || !got[AliceID] || !got[CarolID] {
		t.Errorf("members %v, want alice and carol", got)
	}
	private := s.NewChannel(TeamID, "secret", model.ChannelTypePrivate, AliceID)
	if _, resp, err := c.GetChannelMembersByIds(ctx, private.Id, []string{AliceID}); err == nil || appStatus(resp) != 403 {
		t.Errorf("private channel the bot is not in: %v status %d, want 403", err, appStatus(resp))
	}
	if _, resp, err := c.GetChannelMembersByIds(ctx, strings.Repeat("y", 26), []string{AliceID}); err == nil || appStatus(resp) != 404 {
		t.Errorf("unknown channel: %v status %d, want 404", err, appStatus(resp))
	}
}

// Both batch endpoints refuse an empty or malformed body like the server.
func TestBatchEndpointsRefuseBadBodies(t *testing.T) {
	s, bot, _ := fixtureWorld(t)
	for _, path := range []string{"/users/ids", "/channels/" + ChannelID + "/members/ids"} {
		for _, body := range []string{`[]`, `{}`, `not json`, ``} {
			if status, _ := postRaw(t, s, bot, path, body); status != 400 {
				t.Errorf("%s %q: %d, want 400", path, body, status)
			}
		}
	}
	if status, _ := postRaw(t, s, bot, "/users/ids?since=1", `["`+AliceID+`"]`); status != 501 {
		t.Errorf("since: %d, want 501 (not implemented)", status)
	}
	if status, _ := postRaw(t, s, "wrong", "/users/ids", `["`+AliceID+`"]`); status != 401 {
		t.Errorf("bad token: %d, want 401", status)
	}
}
