package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/demodata"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/session"
)

// testCSRF is the CSRF token the test middleware puts in every request.
const testCSRF = "csrf-test-token-6b1f"

// The people in the request tests. Approvers hold the "approver" role the
// service is configured with; the auditor and eve hold none that decides.
var (
	userAlice   = &session.User{Subject: demodata.Alice.ID, Username: "alice", Name: "Alice Approver", Roles: []string{"approver"}}
	userBob     = &session.User{Subject: demodata.Bob.ID, Username: "bob", Name: "Bob Approver", Roles: []string{"approver"}}
	userCarol   = &session.User{Subject: demodata.Carol.ID, Username: "carol", Name: "Carol Requester", Roles: []string{"approver"}}
	userDave    = &session.User{Subject: demodata.Dave.ID, Username: "dave", Name: "Dave Sponsor", Roles: []string{"approver"}}
	userAuditor = &session.User{Subject: "auditor-sub", Username: "audrey", Name: "Audrey Auditor", Roles: []string{"audit"}}
	userEve     = &session.User{Subject: "eve-sub", Username: "eve", Name: "Eve"}
)

// requestsFixture is a real SQLite store seeded with the demo requests, the
// approval service on it, and the handler under test.
type requestsFixture struct {
	store *models.Store
	svc   *approval.Service
	h     *Requests
	// byAction finds the seeded requests: restart, rotate-secret, scale,
	// flush-cache.
	byAction map[string]*models.Request
}

func newRequestsFixture(t testing.TB, opts RequestsOptions) *requestsFixture {
	t.Helper()
	s := storetest.SQLite(t).Open(t)
	svc := approval.New(s, approval.Config{ApproverRoles: []string{"approver"}})
	ctx := context.Background()
	if _, err := demodata.Seed(ctx, s, svc, time.Now()); err != nil {
		t.Fatalf("seed: %v", err)
	}
	var reqs []models.Request
	if err := s.DB(ctx).Find(&reqs).Error; err != nil {
		t.Fatal(err)
	}
	f := &requestsFixture{store: s, svc: svc, h: NewRequests(svc, opts), byAction: map[string]*models.Request{}}
	for i := range reqs {
		f.byAction[reqs[i].Action] = &reqs[i]
	}
	return f
}

// pageResponse is one served page and the error the handler returned, if any.
type pageResponse struct {
	code int
	body string
	err  error
	doc  *goquery.Document
}

// records is a fake store of Ts by request id: Get finds one or answers
// ErrNotFound.
type records[T any] map[string]*T

// Get returns the record of request id.
func (r records[T]) Get(_ context.Context, id string) (*T, error) {
	if rec, ok := r[id]; ok {
		return rec, nil
	}
	return nil, fmt.Errorf("none: %w", models.ErrNotFound)
}

// testEcho returns a bare echo with a test middleware standing in for
// sessions: it signs in u (nil: nobody) and sets the CSRF token testCSRF;
// and a stand-in error handler mapping the sentinel errors as web does.
// The error a handler returned is stored in *lastErr unless it is nil.
func testEcho(u *session.User, lastErr *error) *echo.Echo {
	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		if lastErr != nil {
			*lastErr = err
		}
		code := http.StatusInternalServerError
		var he *echo.HTTPError
		switch {
		case errors.As(err, &he):
			code = he.Code
		case errors.Is(err, models.ErrNotFound):
			code = http.StatusNotFound
		case errors.Is(err, models.ErrForbidden):
			code = http.StatusForbidden
		case errors.Is(err, models.ErrInvalid):
			code = http.StatusBadRequest
		}
		if !c.Response().Committed {
			_ = c.String(code, http.StatusText(code))
		}
	}
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if u != nil {
				session.WithUser(c, u)
			}
			session.WithCSRFToken(c, testCSRF)
			return next(c)
		}
	})
	return e
}

// router returns testEcho with the request routes.
func (f *requestsFixture) router(u *session.User, lastErr *error) *echo.Echo {
	e := testEcho(u, lastErr)
	e.GET("/", f.h.Dashboard)
	e.GET("/requests", f.h.List)
	e.GET("/requests/:id", f.h.Show)
	e.GET("/mm/:post_id", f.h.FromPost)
	return e
}

// get serves target as u and parses the page.
func (f *requestsFixture) get(t testing.TB, u *session.User, target string) *pageResponse {
	t.Helper()
	var handlerErr error
	rec := httptest.NewRecorder()
	f.router(u, &handlerErr).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	r := &pageResponse{code: rec.Code, body: rec.Body.String(), err: handlerErr}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(r.body))
	if err != nil {
		t.Fatalf("parse %s: %v", target, err)
	}
	r.doc = doc
	return r
}

// page serves target and fails the test unless it answers 200.
func (f *requestsFixture) page(t testing.TB, u *session.User, target string) *goquery.Document {
	t.Helper()
	r := f.get(t, u, target)
	if r.code != http.StatusOK {
		t.Fatalf("GET %s as %v: status %d (%v)", target, userLabel(u), r.code, r.err)
	}
	return r.doc
}

func userLabel(u *session.User) string {
	if u == nil {
		return "nobody"
	}
	return u.Username
}

// testid selects elements by data-testid.
func byTestID(id string) string { return `[data-testid="` + id + `"]` }

// rowIDs returns the request ids of the list rows inside sel.
func rowIDs(sel *goquery.Selection) []string {
	var ids []string
	sel.Find(byTestID("request-row")).Each(func(_ int, s *goquery.Selection) {
		id, _ := s.Attr("data-request-id")
		ids = append(ids, id)
	})
	return ids
}

// text is the trimmed, whitespace-collapsed text of sel.
func squish(sel *goquery.Selection) string { return strings.Join(strings.Fields(sel.Text()), " ") }

// decide records a decision through the domain, as the decision handler
// would after step-up.
func (f *requestsFixture) decide(t testing.TB, r *models.Request, u *session.User, v models.Verdict, comment string) {
	t.Helper()
	_, err := f.svc.Decide(context.Background(), approval.Decision{
		RequestID: r.ID, Approver: u.Approver(), Verdict: v, Comment: comment, ContentHash: r.ContentHash,
		StepUp: approval.StepUp{AuthTime: time.Now().Add(-time.Minute), ACR: "urn:countersign:acr:mfa", AMR: []string{"pwd", "otp", "mfa"}, IDTokenHash: "9f2c0e"},
	})
	if err != nil {
		t.Fatalf("decide %s by %s: %v", r.ID, u.Username, err)
	}
}
