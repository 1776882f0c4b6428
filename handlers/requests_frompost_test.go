package handlers

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/countersign/countersign/models"
)

func TestDeepLinkFromMattermostPost(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	rotate := f.byAction["rotate-secret"]
	var lastErr error
	e := f.router(userAlice, &lastErr)
	for _, post := range []string{rotate.TriggerPostID, rotate.RootPostID} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/mm/"+post, nil))
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/requests/"+rotate.ID {
			t.Fatalf("/mm/%s: %d → %q, want 303 → /requests/%s", post, rec.Code, rec.Header().Get("Location"), rotate.ID)
		}
	}
	for _, path := range []string{"/mm/zzzzzzzzzzzzzzzzzzzzzzzzzz", "/mm/not-a-post-id", "/mm/" + rotate.TriggerPostID + "x"} {
		r := f.get(t, userAlice, path)
		if r.code != http.StatusNotFound || !errors.Is(r.err, models.ErrNotFound) {
			t.Errorf("%s: %d %v, want 404", path, r.code, r.err)
		}
	}
	// Someone who may not see the request gets the same 404.
	if r := f.get(t, userEve, "/mm/"+f.byAction["scale"].TriggerPostID); r.code != http.StatusNotFound {
		t.Errorf("hidden request: %d, want 404", r.code)
	}
}
