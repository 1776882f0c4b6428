package notify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/handlers"
	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/mattermost/mmfake"
	"github.com/countersign/countersign/web/mattermost/notify"
)

// buttonContext reads the cancel button's context from a stored post, as
// Mattermost keeps it.
func buttonContext(t *testing.T, p *model.Post) map[string]any {
	t.Helper()
	b, _ := json.Marshal(p.GetProp(model.PostPropsAttachments))
	var atts []*model.MessageAttachment
	if err := json.Unmarshal(b, &atts); err != nil || len(atts) != 1 || len(atts[0].Actions) != 1 {
		t.Fatalf("no cancel button on the post: %s", b)
	}
	a := atts[0].Actions[0]
	if a.Id != notify.CancelActionID || a.Integration.URL != publicURL+"/hooks/mattermost/action" {
		t.Fatalf("button %+v", a)
	}
	return a.Integration.Context
}

// click sends a button request to the endpoint as Mattermost does.
func click(t *testing.T, url string, in model.PostActionIntegrationRequest) *model.PostActionIntegrationResponse {
	t.Helper()
	resp, err := mmfake.PostAction(url, in)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var out model.PostActionIntegrationResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// TestCancelButton checks the requester's cancel button and every way a
// click can be forged or stale: each refusal changes nothing.
func TestCancelButton(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		w := e.worker(t, "w1")
		r := e.create(t, "restart", 1)
		other := e.create(t, "another", 1)
		drain(t, w)
		msg := e.botPosts(e.channel.Id, r.ID)[0]
		otherMsg := e.botPosts(e.channel.Id, other.ID)[0]
		ctxMap := buttonContext(t, msg)

		actions := notify.NewActions(e.svc, e.queue, e.signer, notify.Renderer{PublicURL: publicURL}, publicURL+"/hooks/mattermost/action", e.clock.Now, nil)
		ec := echo.New()
		ec.POST("/hooks/mattermost/action", handlers.NewMattermostActions(actions).Action)
		srv := httptest.NewServer(ec)
		defer srv.Close()
		url := srv.URL + "/hooks/mattermost/action"
		req := func(user, post string, c map[string]any) model.PostActionIntegrationRequest {
			return model.PostActionIntegrationRequest{UserId: user, UserName: "x", ChannelId: e.channel.Id, TeamId: e.channel.TeamId, PostId: post, Type: model.PostActionTypeButton, Context: c}
		}
		state := func() models.State {
			got, err := e.svc.Get(context.Background(), r.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got.State
		}
		forged := map[string]any{}
		for k, v := range ctxMap {
			forged[k] = v
		}
		forged["sig"] = strings.Repeat("A", 43)
		otherReq := map[string]any{}
		for k, v := range ctxMap {
			otherReq[k] = v
		}
		otherReq["request_id"] = other.ID

		for name, in := range map[string]model.PostActionIntegrationRequest{
			"forged signature":          req(e.people["carol"].Id, msg.Id, forged),
			"token for another request": req(e.people["carol"].Id, msg.Id, otherReq),
			"wrong post id":             req(e.people["carol"].Id, otherMsg.Id, ctxMap),
			"wrong user":                req(e.people["mallory"].Id, msg.Id, ctxMap),
			"no context":                req(e.people["carol"].Id, msg.Id, nil),
		} {
			out := click(t, url, in)
			if out.Update != nil || out.EphemeralText == "" || strings.Contains(out.EphemeralText, "cancelled") {
				t.Fatalf("%s: answered %+v", name, out)
			}
			if state() != models.StatePending {
				t.Fatalf("%s changed the request", name)
			}
		}

		out := click(t, url, req(e.people["carol"].Id, msg.Id, ctxMap))
		if out.Update == nil || !strings.HasPrefix(out.Update.Message, "❌ **CANCELLED**") || out.Update.GetProp(model.PostPropsAttachments) != nil {
			t.Fatalf("valid cancel answered %+v", out)
		}
		if state() != models.StateCancelled {
			t.Fatal("valid cancel did not cancel")
		}
		var n int64
		e.store.DB(context.Background()).Table("audit_events").Where("request_id = ? AND type = ?", r.ID, "request.cancelled").Count(&n)
		if n != 1 {
			t.Fatalf("cancel audited %d times", n)
		}

		replay := click(t, url, req(e.people["carol"].Id, msg.Id, ctxMap))
		if replay.Update != nil || !strings.Contains(replay.EphemeralText, "already cancelled by carol") {
			t.Fatalf("replay answered %+v", replay)
		}
		e.store.DB(context.Background()).Table("audit_events").Where("request_id = ? AND type = ?", r.ID, "request.cancelled").Count(&n)
		if n != 1 {
			t.Fatalf("replay wrote another audit event")
		}
		drain(t, w)
		if m := e.botPosts(e.channel.Id, r.ID)[0]; !strings.HasPrefix(m.Message, "❌ **CANCELLED**") {
			t.Fatalf("chat message after cancel:\n%s", m.Message)
		}
	})
}

// TestEscapeRendersUserTextAsText checks that Markdown, HTML, script and
// mentions in a purpose reach chat as literal text.
func TestEscapeRendersUserTextAsText(t *testing.T) {
	in := "<script>alert(1)</script> **bold** [x](http://evil.example) @channel `code`\n# heading"
	got := notify.Escape(in, 0)
	for _, bad := range []string{"<script>", "**bold**", "[x](", "@channel", "`code`", "\n"} {
		if strings.Contains(got, bad) {
			t.Errorf("escaped text still holds %q: %s", bad, got)
		}
	}
	for _, want := range []string{"\\<script\\>", "\\*\\*bold\\*\\*", "\\[x\\]\\(http\\:", "@\u200bchannel", "\\# heading"} {
		if !strings.Contains(got, want) {
			t.Errorf("escaped text lacks %q: %s", want, got)
		}
	}
	if got := notify.Escape("ééééé", 3); got != "ééé…" {
		t.Errorf("cut: %q", got)
	}
}

// TestHostilePurposeIsEscapedInChat posts a request whose purpose holds
// Markdown and HTML, and checks the message as Mattermost stored it.
func TestHostilePurposeIsEscapedInChat(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newEnv(t, b)
		r := e.create(t, "<img src=x onerror=alert(1)> [click](javascript:alert(1)) @all", 1)
		drain(t, e.worker(t, "w1"))
		msg := e.botPosts(e.channel.Id, r.ID)[0].Message
		if strings.Contains(strings.ReplaceAll(msg, "\\<", ""), "<") || strings.Contains(msg, "[click](") || strings.Contains(msg, "@all") {
			t.Fatalf("hostile purpose reached chat unescaped:\n%s", msg)
		}
	})
}
