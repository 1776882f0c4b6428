package handlers_test

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/mattermost/mmfake"
)

// callsOf summarises the API calls the fake received, one "METHOD path
// ×n" entry per distinct call, ids shortened to their role.
func callsOf(f *mmfake.Server) []string {
	names := map[string]string{
		mmfake.AliceID: "{alice}", mmfake.BobID: "{bob}", mmfake.TestbotID: "{testbot}",
		mmfake.ChannelID: "{channel}", mmfake.TeamID: "{team}", mmfake.RootPostID: "{root}",
	}
	n := map[string]int{}
	for _, r := range f.Requests() {
		p := strings.TrimPrefix(r.Path, "/api/v4")
		for id, name := range names {
			p = strings.ReplaceAll(p, id, name)
		}
		n[r.Method+" "+p]++
	}
	out := make([]string, 0, len(n))
	for k, v := range n {
		out = append(out, fmt.Sprintf("%s ×%d", k, v))
	}
	sort.Strings(out)
	return out
}

// A slash command on a thread costs a fixed, small number of calls to
// Mattermost, whatever the number of posts: the first one (cold cache)
// reads the requester, the thread, channel and team, all authors in one
// batch, their membership in one batch, the bot author's record and its
// owner's account; the
// next ones, within the cache TTL, only the thread and the membership —
// what may have changed. Without the cache every command makes the cold
// calls (but never one call per author).
func TestSlashCommandCallsToMattermost(t *testing.T) {
	send := func(t *testing.T, e *chatEnv) {
		t.Helper()
		e.fake.ResetRequests()
		code, cr := e.command(tokenNew, mmfake.CommandFields{Text: "restart payments-api env=prod -- OOM loop", RootID: mmfake.RootPostID})
		if code != http.StatusOK || !strings.Contains(cr.Text, "REQ-") {
			t.Fatalf("HTTP %d %q", code, cr.Text)
		}
	}
	cold := []string{
		"GET /bots/{testbot} ×1",
		"GET /channels/{channel} ×1",
		"GET /posts/{root}/thread ×1",
		"GET /teams/{team} ×1",
		"GET /users/{alice} ×1",
		"POST /channels/{channel}/members/ids ×1",
		// The authors, then the bot author's owner (who wrote no captured
		// post), for the owner's username.
		"POST /users/ids ×2",
	}
	warm := []string{
		"GET /posts/{root}/thread ×1",
		"POST /channels/{channel}/members/ids ×1",
	}
	check := func(t *testing.T, got, want []string) {
		t.Helper()
		want = append([]string(nil), want...)
		sort.Strings(want)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	t.Run("cache on", func(t *testing.T) {
		e := newChatEnv(t, storetest.SQLite(t), envOptions{cacheTTL: time.Minute})
		send(t, e)
		// The bot's own id (GET /users/me) is read once, for ever.
		check(t, callsOf(e.fake), append([]string{"GET /users/me ×1"}, cold...))
		for range 2 {
			send(t, e)
			check(t, callsOf(e.fake), warm)
		}
	})
	t.Run("cache off", func(t *testing.T) {
		e := newChatEnv(t, storetest.SQLite(t), envOptions{})
		send(t, e)
		for range 2 {
			send(t, e)
			check(t, callsOf(e.fake), cold)
		}
	})
}
