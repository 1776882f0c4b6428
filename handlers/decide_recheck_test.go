package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/handlers"
	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/mattermost"
	"github.com/countersign/countersign/web/oidcrp"
	"github.com/countersign/countersign/web/session"
)

// freshRP is a relying party that is never asked: the approver's session
// is fresh and strong (decideAs), so a decision is recorded without a
// step-up.
type freshRP struct{}

func (freshRP) Begin(oidcrp.AuthOptions) (string, oidcrp.Pending, error) {
	return "", oidcrp.Pending{}, nil
}

func (freshRP) Complete(context.Context, oidcrp.Pending, url.Values) (*oidcrp.Identity, error) {
	return nil, models.ErrForbidden
}

func (freshRP) EndSessionURL(string, string) (string, bool) { return "", false }

// decideAs posts a decision form to Submit as a signed-in approver (not
// the requester alice) and returns the response.
func decideAs(t *testing.T, d *handlers.Decisions, id, verdict, hash string) *httptest.ResponseRecorder {
	t.Helper()
	e := echo.New()
	form := url.Values{"verdict": {verdict}, "comment": {"looks right"}, "content_hash": {hash}}
	req := httptest.NewRequest(http.MethodPost, "/requests/"+id+"/decision", strings.NewReader(form.Encode()))
	req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
	rec := httptest.NewRecorder()
	c := e.NewContext(req, rec)
	c.SetPath("/requests/:id/decision")
	c.SetParamNames("id")
	c.SetParamValues(id)
	session.WithSession(c, &session.Session{})
	session.WithUser(c, &session.User{
		Subject: "sub-erin", Issuer: "https://idp.example", Username: "erin", Name: "Erin Approver",
		Roles: []string{"approver"}, AuthTime: time.Now(), ACR: "mfa", AMR: []string{"pwd", "otp"},
	})
	if err := d.Submit(c); err != nil {
		e.HTTPErrorHandler(err, c)
	}
	return rec
}

// TestDecisionRechecksConversation proves the decision flow reads the
// conversation again before recording anything: a captured post edited in
// Mattermost after the capture moves the content hash, the decision bound
// to the old content is refused with a page saying the request changed,
// and nothing is recorded; with Mattermost unreachable the decision goes
// ahead on the capture and the redirect carries chat=unchecked.
func TestDecisionRechecksConversation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		env := newChatEnv(t, b, envOptions{})
		ctx := context.Background()
		client, err := mattermost.New(mattermost.Config{
			SiteURL: env.fake.URL(), BotToken: env.fake.NewToken(env.botID), CallTimeout: 2 * time.Second, MaxAttempts: 2,
			BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond, Now: func() time.Time { return captureEnd },
		})
		if err != nil {
			t.Fatal(err)
		}
		rereading := approval.New(env.store, approval.Config{Conversation: mattermost.NewRereader(client)})
		decisions := handlers.NewDecisions(rereading, freshRP{}, nil, handlers.DecisionsConfig{})

		t.Run("edited_post_refuses_the_decision", func(t *testing.T) {
			id := requestIDIn(t, env.say("restart payments-api env=prod -- OOM loop, INC-4211").Text)
			before, err := env.svc.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			var edited string
			for _, p := range before.Posts {
				if p.PostID != before.TriggerPostID && p.DeleteAt == 0 {
					edited = p.PostID
					break
				}
			}
			if edited == "" {
				t.Fatalf("no captured post to edit in %+v", before.Posts)
			}
			if err := env.fake.Edit(edited, "actually, restart the database too"); err != nil {
				t.Fatal(err)
			}

			rec := decideAs(t, decisions, id, "approve", before.ContentHash)
			if rec.Code != http.StatusConflict {
				t.Fatalf("decision on edited content: status %d, want 409; body %.400s", rec.Code, rec.Body.String())
			}
			for _, want := range []string{`data-testid="decision-changed"`, "not recorded", "/requests/" + id} {
				if !strings.Contains(rec.Body.String(), want) {
					t.Errorf("the approver is not told the content changed: body lacks %q", want)
				}
			}
			after, err := env.svc.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if after.ContentHash == before.ContentHash {
				t.Errorf("content hash %s unchanged after a captured post was edited", after.ContentHash)
			}
			if len(after.Decisions) != 0 {
				t.Errorf("a decision was recorded against the old content: %+v", after.Decisions)
			}
			if after.State != models.StatePending {
				t.Errorf("state %s, want pending", after.State)
			}
			var changed bool
			for _, p := range after.Posts {
				if p.PostID == edited && strings.Contains(p.Message, "restart the database too") {
					changed = true
				}
			}
			if !changed {
				t.Errorf("the stored conversation does not show the edit of %s", edited)
			}

			// Deciding on the content as it now stands is accepted.
			rec = decideAs(t, decisions, id, "approve", after.ContentHash)
			if rec.Code != http.StatusSeeOther {
				t.Fatalf("decision on the current content: status %d; body %.400s", rec.Code, rec.Body.String())
			}
			if loc := rec.Header().Get("Location"); !strings.Contains(loc, "decided=approve") || strings.Contains(loc, "chat=unchecked") {
				t.Errorf("redirect after a checked decision: %q", loc)
			}
			final, err := env.svc.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(final.Decisions) != 1 || final.Decisions[0].ContentHash != after.ContentHash {
				t.Errorf("decisions %+v, want one bound to %s", final.Decisions, after.ContentHash)
			}
		})

		t.Run("unreachable_mattermost_decides_unchecked", func(t *testing.T) {
			id := requestIDIn(t, env.say("restart search-api env=prod -- flaky pods").Text)
			before, err := env.svc.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			// A Mattermost that does not answer: its address refuses
			// connections.
			gone := httptest.NewServer(http.NotFoundHandler())
			gone.Close()
			down, err := mattermost.New(mattermost.Config{
				SiteURL: gone.URL, BotToken: "bot-token-of-a-gone-server", CallTimeout: time.Second, MaxAttempts: 2,
				BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			unchecked := handlers.NewDecisions(approval.New(env.store, approval.Config{Conversation: mattermost.NewRereader(down)}), freshRP{}, nil, handlers.DecisionsConfig{})
			rec := decideAs(t, unchecked, id, "approve", before.ContentHash)
			if rec.Code != http.StatusSeeOther {
				t.Fatalf("decision with Mattermost down: status %d, want 303; body %.400s", rec.Code, rec.Body.String())
			}
			loc := rec.Header().Get("Location")
			if !strings.Contains(loc, "decided=approve") || !strings.Contains(loc, "chat=unchecked") {
				t.Errorf("redirect %q, want decided=approve with chat=unchecked", loc)
			}
			after, err := env.svc.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(after.Decisions) != 1 || after.Decisions[0].ContentHash != before.ContentHash {
				t.Errorf("decisions %+v, want one on the captured content %s", after.Decisions, before.ContentHash)
			}
			if after.ContentHash != before.ContentHash {
				t.Errorf("content hash moved without a re-read: %s -> %s", before.ContentHash, after.ContentHash)
			}
		})
	})
}
