package mmreal_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/web/mattermost/mmreal"
)

func TestMain(m *testing.M) { os.Exit(mmreal.Main(m)) }

// integration records what the server sends to a slash command and a
// button, and answers both.
type integration struct {
	mu      sync.Mutex
	command url.Values
	action  *model.PostActionIntegrationRequest
}

func (in *integration) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in.mu.Lock()
	defer in.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/command":
		_ = r.ParseForm()
		in.command = r.PostForm
		_ = json.NewEncoder(w).Encode(&model.CommandResponse{ResponseType: model.CommandResponseTypeEphemeral, Text: "heard " + r.PostForm.Get("text")})
	case "/action":
		var req model.PostActionIntegrationRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		in.action = &req
		_ = json.NewEncoder(w).Encode(&model.PostActionIntegrationResponse{Update: &model.Post{Message: "clicked"}, EphemeralText: "ok"})
	default:
		http.NotFound(w, r)
	}
}

// TestHarnessAgainstTheRealServer: the world the harness builds works as
// people use it, and the server behaves as the README says: the command
// token is Mattermost's, a command typed in a thread arrives without
// root_id, webhook posts carry their creator's id and the override name,
// edits set edit_at, and a button click reaches the integration with the
// clicker and the context, and the update it answers with is applied.
func TestHarnessAgainstTheRealServer(t *testing.T) {
	s := mmreal.Shared(t)
	w := s.NewWorld(t, "alice", "bob")
	in := &integration{}
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	cmd := w.CreateCommand("probe", srv.URL+"/command")
	if len(cmd.Token) != 26 {
		t.Fatalf("command token %q: want the 26 characters Mattermost generates", cmd.Token)
	}
	alice, bob := w.Person("alice"), w.Person("bob")
	if alice.Username != "alice-"+w.Suffix {
		t.Fatalf("username %q", alice.Username)
	}

	root := w.Post(alice, w.Channel.Id, "the database is slow")
	reply := w.Reply(bob, root.Id, "I see it too")
	resp, err := w.ExecuteCommand(alice, w.Channel.Id, "/probe hello there", root.Id)
	if err != nil || resp.Text != "heard hello there" {
		t.Fatalf("execute: %+v %v", resp, err)
	}
	in.mu.Lock()
	form := in.command
	in.mu.Unlock()
	if form.Get("token") != cmd.Token || form.Get("user_id") != alice.Id || form.Get("channel_id") != w.Channel.Id || form.Get("team_id") != w.Team.Id {
		t.Fatalf("command form: %v", form)
	}
	if _, sent := form["root_id"]; sent {
		t.Fatalf("Mattermost 9.10 sent root_id %q; the README says it does not", form.Get("root_id"))
	}

	edited := w.Edit(bob, reply.Id, "I see it too, since 10:02")
	if edited.EditAt == 0 || w.GetPost(reply.Id).Message != "I see it too, since 10:02" {
		t.Fatalf("edit: %+v", edited)
	}
	if th := w.ThreadPosts(root.Id); len(th) != 2 || th[0].Id != root.Id || th[1].Id != reply.Id {
		t.Fatalf("thread: %v", th)
	}
	w.Delete(bob, reply.Id)
	if th := w.ThreadPosts(root.Id); len(th) != 1 {
		t.Fatalf("thread after deletion: %d posts", len(th))
	}

	hook := w.WebhookPost("deploy finished", w.Name("bob"))
	if hook.UserId != s.Admin.Id || hook.GetProp("override_username") != w.Name("bob") || hook.RootId != "" {
		t.Fatalf("webhook post: user %s props %v", hook.UserId, hook.GetProps())
	}

	// A bot message with a button, clicked by bob.
	ctxt := map[string]any{"k": "v"}
	msg := &model.Post{ChannelId: w.Channel.Id, Message: "press"}
	msg.AddProp(model.PostPropsAttachments, []*model.MessageAttachment{{Actions: []*model.PostAction{{
		Id: "pressme", Name: "Press", Type: model.PostActionTypeButton,
		Integration: &model.PostActionIntegration{URL: srv.URL + "/action", Context: ctxt},
	}}}})
	since := time.Now().UnixMilli()
	ctx, cancel := contextWithTimeout()
	defer cancel()
	posted, _, err := w.Bot.Client.CreatePost(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.ClickButton(bob, posted.Id, "pressme"); err != nil {
		t.Fatal(err)
	}
	in.mu.Lock()
	act := in.action
	in.mu.Unlock()
	if act == nil || act.UserId != bob.Id || act.PostId != posted.Id || act.ChannelId != w.Channel.Id || act.Context["k"] != "v" {
		t.Fatalf("action request: %+v", act)
	}
	w.WaitForPost(w.Channel.Id, since, 5*time.Second, func(p *model.Post) bool { return p.Id == posted.Id && p.Message == "clicked" })
}
