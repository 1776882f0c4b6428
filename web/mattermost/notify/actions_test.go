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
	eachEnv(t, func(t *testing.T, e *env) {
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

// mattermostEscapes are the characters Mattermost's renderer (its fork
// of marked) unescapes after a backslash; before any other character the
// backslash is shown. Written out here, from the renderer's rules, apart
// from the code's own list.
const mattermostEscapes = "\\`*{}[]()#+-.!_>~|"

// renderedText is what Mattermost shows for escaped text: a backslash
// before one of its escapable characters disappears, any other stays.
func renderedText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(mattermostEscapes, s[i+1]) >= 0 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// TestEscapeFollowsTheRenderersRules: every ASCII character reads in
// Mattermost exactly as typed — escaped when the renderer would give it
// meaning, left alone (no stray backslash) otherwise — and user text
// with Markdown reaches chat as literal text.
func TestEscapeFollowsTheRenderersRules(t *testing.T) {
	for c := byte(' '); c < 0x7f; c++ {
		in := "a" + string(c) + "b"
		got := notify.Escape(in, 0)
		if c == '@' {
			continue // mentions are broken on purpose (below)
		}
		if renderedText(got) != in {
			t.Errorf("%q escapes to %q, which Mattermost shows as %q", in, got, renderedText(got))
		}
		if escaped := strings.Contains(got, "\\"); escaped != (strings.IndexByte(mattermostEscapes, c) >= 0) {
			t.Errorf("%q: escaped %v (%q)", in, escaped, got)
		}
	}
	for _, in := range []string{"env=prod", "acr urn:countersign:acr:mfa", "a <b> & 'c' \"d\" $5 ~ok~"} {
		if got := notify.Escape(in, 0); renderedText(got) != in || strings.Contains(got, "\\=") || strings.Contains(got, "\\:") {
			t.Errorf("%q escapes to %q (shown %q)", in, got, renderedText(got))
		}
	}
	in := "**bold** [x](http://evil.example) @channel `code`\n# heading"
	got := notify.Escape(in, 0)
	for _, bad := range []string{"**bold**", "[x](", "@channel", "`code`", "\n"} {
		if strings.Contains(got, bad) {
			t.Errorf("escaped text still holds %q: %s", bad, got)
		}
	}
	if shown := renderedText(got); shown != "**bold** [x](http://evil.example) @\u200bchannel `code` # heading" {
		t.Errorf("Mattermost would show %q", shown)
	}
	if got := notify.Escape("ééééé", 3); got != "ééé…" {
		t.Errorf("cut: %q", got)
	}
}

// TestCodeSpanShowsValuesAsWritten: values go in code spans whose fence
// outlasts any backticks inside, so nothing in them is Markdown.
func TestCodeSpanShowsValuesAsWritten(t *testing.T) {
	for in, want := range map[string]string{
		"env=prod":         "`env=prod`",
		"urn:x:acr:mfa":    "`urn:x:acr:mfa`",
		"a`b":              "``a`b``",
		"`x`":              "`` `x` ``",
		"two\nlines @here": "`two lines @\u200bhere`",
		"":                 "`  `",
	} {
		if got := notify.Code(in, 0); got != want {
			t.Errorf("Code(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHostilePurposeIsEscapedInChat posts a request whose purpose holds
// Markdown and HTML, and checks the message as Mattermost stored it.
func TestHostilePurposeIsEscapedInChat(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r := e.create(t, "<img src=x onerror=alert(1)> [click](javascript:alert(1)) @all", 1)
		drain(t, e.worker(t, "w1"))
		msg := e.botPosts(e.channel.Id, r.ID)[0].Message
		// Mattermost shows HTML as text; links and mentions must not work.
		if strings.Contains(msg, "[click](") || strings.Contains(msg, "@all") || !strings.Contains(msg, "\\[click\\]\\(javascript:alert\\(1\\)\\)") {
			t.Fatalf("hostile purpose reached chat unescaped:\n%s", msg)
		}
	})
}
