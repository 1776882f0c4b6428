package handlers

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/comment"
	"github.com/countersign/countersign/web/session"
)

// post sends form as u to target through the comment and withdraw
// routes, returning the response and the handler's error.
func (f *requestsFixture) post(t *testing.T, talk *Talk, u *session.User, target string, form url.Values) (*httptest.ResponseRecorder, error) {
	t.Helper()
	var handlerErr error
	e := f.router(u, &handlerErr)
	e.POST("/requests/:id/comments", talk.Comment)
	e.POST("/requests/:id/withdraw", talk.Withdraw)
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec, handlerErr
}

// TestCommentAndWithdrawFromTheRequestPage: anyone who may see a request
// comments on it and sees the comments, oldest last, with author and
// time; refused text gets a 400 page saying why with the draft kept, and
// stores nothing; only the requester is offered, and may use, withdraw.
func TestCommentAndWithdrawFromTheRequestPage(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	comments := comment.New(f.store, f.svc, comment.Config{})
	f.h.comments = comments
	talk := NewTalk(comments, f.svc, nil)
	restart := f.byAction["restart"] // carol's
	path := "/requests/" + restart.ID

	// The forms: comments for every viewer, withdraw for carol only.
	if doc := f.page(t, userAlice, path); doc.Find(byTestID("comment-form")).Length() != 1 || doc.Find(byTestID("withdraw-form")).Length() != 0 {
		t.Errorf("alice: want the comment form and no withdraw form")
	}
	doc := f.page(t, userCarol, path)
	if doc.Find(byTestID("withdraw-form")).Length() != 1 || doc.Find(byTestID("no-comments")).Length() != 1 {
		t.Errorf("carol: want the withdraw form and no comments yet")
	}
	for _, sel := range []string{byTestID("comment-form"), byTestID("withdraw-form")} {
		if tok, _ := doc.Find(sel + ` input[name="` + session.CSRFField + `"]`).Attr("value"); tok != testCSRF {
			t.Errorf("%s lacks the CSRF token", sel)
		}
	}

	// Refused text: 400, why, the draft kept, nothing stored.
	long := strings.Repeat("x", comment.MaxBytes+1)
	for name, c := range map[string]struct{ body, why string }{
		"empty":   {"   ", "is empty"},
		"long":    {long, "at most 2000"},
		"invalid": {"bad \xff", "not valid UTF-8"},
	} {
		rec, _ := f.post(t, talk, userAlice, path+"/comments", url.Values{"comment": {c.body}})
		page, _ := goquery.NewDocumentFromReader(strings.NewReader(rec.Body.String()))
		if rec.Code != http.StatusBadRequest || !strings.Contains(page.Find(byTestID("comment-error")).Text(), c.why) {
			t.Errorf("%s: HTTP %d, error %q, want 400 saying %q", name, rec.Code, page.Find(byTestID("comment-error")).Text(), c.why)
		}
		if name == "long" && page.Find("#comment-body").Text() != long {
			t.Errorf("the refused draft was not kept")
		}
	}
	if list, _ := comments.List(t.Context(), restart.ID); len(list) != 0 {
		t.Fatalf("refused comments stored: %+v", list)
	}

	// Someone who may not see it: 404, as for the page.
	if _, err := f.post(t, talk, userEve, path+"/comments", url.Values{"comment": {"hi"}}); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("eve commenting: %v, want not found", err)
	}
	if _, err := f.post(t, talk, userEve, path+"/withdraw", nil); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("eve withdrawing: %v, want not found", err)
	}

	for _, c := range []struct {
		u    *session.User
		body string
	}{{userAlice, "Is the flag fix not enough?"}, {userCarol, "It ships tomorrow."}} {
		rec, err := f.post(t, talk, c.u, path+"/comments", url.Values{"comment": {c.body}})
		if err != nil || rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != path+"?commented=1#comments" {
			t.Fatalf("comment by %s: HTTP %d to %q, %v", c.u.Username, rec.Code, rec.Header().Get("Location"), err)
		}
	}
	doc = f.page(t, userBob, path+"?commented=1")
	bodies := doc.Find(byTestID("comment-body")).Map(func(_ int, s *goquery.Selection) string { return s.Text() })
	authors := doc.Find(byTestID("comment-author")).Map(func(_ int, s *goquery.Selection) string { return s.Text() })
	if strings.Join(bodies, "|") != "Is the flag fix not enough?|It ships tomorrow." || len(authors) != 2 || authors[0] != userAlice.Name {
		t.Errorf("comments shown %v by %v", bodies, authors)
	}
	if doc.Find(byTestID("comment-time")).First().AttrOr("datetime", "") == "" {
		t.Errorf("a comment shows no time")
	}

	// Withdraw: not alice's to withdraw; carol's, once.
	if _, err := f.post(t, talk, userAlice, path+"/withdraw", nil); !errors.Is(err, approval.ErrNotYours) {
		t.Errorf("alice withdrawing carol's request: %v, want ErrNotYours", err)
	}
	rec, err := f.post(t, talk, userCarol, path+"/withdraw", url.Values{"reason": {"fixed by the flag"}})
	if err != nil || rec.Code != http.StatusSeeOther {
		t.Fatalf("carol withdrawing: HTTP %d, %v", rec.Code, err)
	}
	r, _ := f.svc.Get(t.Context(), restart.ID)
	if r.State != models.StateCancelled {
		t.Errorf("after withdrawing: %s, want cancelled", r.State)
	}
	if _, err := f.post(t, talk, userCarol, path+"/withdraw", nil); !errors.Is(err, approval.ErrNotPending) {
		t.Errorf("second withdraw: %v, want not pending", err)
	}
	if doc := f.page(t, userCarol, path+"?withdrawn=1"); doc.Find(byTestID("withdraw-form")).Length() != 0 || !strings.Contains(doc.Find(byTestID("comments-notice")).Text(), "You withdrew") {
		t.Errorf("after withdrawing: the form is still offered or no notice")
	}
}
