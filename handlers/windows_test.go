package handlers

import (
	"context"
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
	"github.com/countersign/countersign/models/policy"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/models/window"
	"github.com/countersign/countersign/web/session"
)

const pagePolicy = `version: 1
roles: {sre: {idp_groups: [sre]}}
windows: [{name: prod}]
actions:
  - {name: restart, params: [{name: env, required: true}]}
rules:
  - {name: windows-auto, when: 'request.action == "window.open"', auto_approve: {}}
  - {name: prod-changes, when: 'request.params.env == "prod"', require: {approvals: 2, roles: [sre]}}
`

type policyFixture struct {
	*requestsFixture
	windows *window.Service
	holder  *policy.Holder
}

func newPolicyFixture(t *testing.T) *policyFixture {
	s := storetest.SQLite(t).Open(t)
	p, err := policy.Parse("policy.yaml", []byte(pagePolicy))
	if err != nil {
		t.Fatal(err)
	}
	h := policy.NewHolder(p)
	ws := window.New(s, nil)
	svc := approval.New(s, approval.Config{ApproverRoles: []string{"approver"}, Policy: h, Windows: ws, Effects: approval.Effects{Window: ws.Hook()}})
	return &policyFixture{
		requestsFixture: &requestsFixture{store: s, svc: svc, h: NewRequests(svc, RequestsOptions{}), byAction: map[string]*models.Request{}},
		windows:         ws, holder: h,
	}
}

func TestRequestPageExplainsThePolicyOutcome(t *testing.T) {
	f := newPolicyFixture(t)
	sub, err := f.svc.Submit(context.Background(), approval.NewRequest{
		Kind: models.KindAction, Action: "restart", Params: map[string]any{"env": "prod"}, Requester: demodata.Carol,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	doc := f.page(t, userAlice, "/requests/"+sub.Request.ID)
	got := strings.TrimSpace(doc.Find(`[data-testid="policy-explanation"]`).Text())
	if got != `2 approvals from sre needed, rule prod-changes, because request.params.env == "prod"` {
		t.Errorf("explanation %q", got)
	}
}

func TestWindowsPage(t *testing.T) {
	f := newPolicyFixture(t)
	status := policy.Status{Path: "/etc/countersign/policy.yaml", Ref: f.holder.Current().Ref, LoadedAt: time.Now()}
	h := NewWindows(f.windows, PolicyState{Status: func() policy.Status { return status }, Policy: f.holder.Current}, nil)
	e := echo.New()
	e.GET("/windows", h.Show, func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error { session.WithUser(c, userAuditor); return next(c) }
	})
	page := func() *goquery.Document {
		t.Helper()
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/windows", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		doc, err := goquery.NewDocumentFromReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		return doc
	}
	doc := page()
	if doc.Find(`[data-testid="windows-none"]`).Length() != 1 || doc.Find(`[data-testid="policy-problem"]`).Length() != 0 ||
		strings.TrimSpace(doc.Find(`[data-testid="policy-ref"]`).Text()) != status.Ref ||
		!strings.Contains(doc.Find(`[data-testid="windows-declared"]`).Text(), "prod") {
		t.Fatalf("no windows:\n%s", doc.Text())
	}
	sub, err := window.RequestOpen(context.Background(), f.svc, "prod", "2h", "release 4.2", demodata.Carol, models.Source{}, nil)
	if err != nil || sub.Request.State != models.StateApproved {
		t.Fatalf("open window: %v", err)
	}
	status.Problem = "/etc/countersign/policy.yaml:7:3: unknown role \"dba\""
	doc = page()
	row := doc.Find(`[data-testid="window-row"][data-window="prod"]`)
	if row.Length() != 1 || !strings.Contains(row.Text(), "release 4.2") || !strings.Contains(row.Text(), sub.Request.ID) {
		t.Errorf("window row %q", row.Text())
	}
	if !strings.Contains(doc.Find(`[data-testid="policy-problem"]`).Text(), "policy.yaml:7:3: unknown role") {
		t.Errorf("problem not shown")
	}
	status = policy.Status{}
	if doc := page(); !strings.Contains(doc.Find(`[data-testid="policy-status"]`).Text(), "No policy file is configured") {
		t.Errorf("unconfigured policy not said")
	}
}
