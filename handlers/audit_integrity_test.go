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

	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/web/session"
)

func TestIntegrityPage(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	key, cp := newCheckpointer(t, f.store)
	h := NewIntegrity(cp, IntegrityOptions{})
	e := echo.New()
	e.GET("/audit/integrity", h.Show, func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Request().Header.Get("X-Test-Anonymous") == "" {
				session.WithUser(c, userAuditor)
			}
			return next(c)
		}
	})
	page := func() (*goquery.Document, string) {
		t.Helper()
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/audit/integrity", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		doc, err := goquery.NewDocumentFromReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		state, _ := doc.Find(`[data-testid="integrity"]`).Attr("data-state")
		return doc, state
	}
	if _, state := page(); state != "none" {
		t.Fatalf("before any checkpoint: state %q", state)
	}
	c, err := cp.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	doc, state := page()
	if state != "ok" || strings.TrimSpace(doc.Find(`[data-testid="integrity-size"]`).Text()) != "6" ||
		!strings.Contains(doc.Find(`[data-testid="integrity-note"]`).Text(), "cs.example.com/audit") ||
		strings.TrimSpace(doc.Find(`[data-testid="integrity-key"]`).Text()) != key.VerifierKey() || c.Size != 6 {
		t.Fatalf("after a checkpoint: state %q, page %q", state, doc.Find(`[data-testid="integrity"]`).Text())
	}
	if text := doc.Find(`[data-testid="integrity-unsigned"]`).Text(); !strings.Contains(text, "Every event in the log is under this checkpoint") {
		t.Fatalf("with the head at the checkpoint: %q", text)
	}
	// An event hash rewritten behind the server's back: the live log no
	// longer matches the signed root.
	db, _ := f.store.SQL()
	if _, err := db.Exec(`UPDATE audit_events SET hash = CASE WHEN substr(hash, 1, 1) = 'f' THEN 'e' ELSE 'f' END || substr(hash, 2) WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	doc, state = page()
	if state != "mismatch" || !strings.Contains(doc.Find(`[data-testid="integrity-status"]`).Text(), "no longer matches") {
		t.Fatalf("after tampering: state %q, %q", state, doc.Find(`[data-testid="integrity-status"]`).Text())
	}
	// Signed-out visitors are refused.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/audit/integrity", nil)
	req.Header.Set("X-Test-Anonymous", "1")
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("anonymous: %d", rec.Code)
	}
}

// pendingChecker answers like an integrity cache whose stored tree state
// is still being caught up.
type pendingChecker struct{}

func (pendingChecker) VerifyLatest(context.Context) (*proof.Checkpoint, error) {
	return &proof.Checkpoint{Origin: "cs.example.com/audit", Size: 42, Root: make([]byte, 32)}, proof.ErrIntegrityPending
}

func (pendingChecker) VerifierKey() string { return "cs.example.com/audit+01234567+AAAA" }

func (pendingChecker) ChainHead(context.Context) (int64, error) { return 42, nil }

// signedChecker answers like an integrity cache whose latest checkpoint
// (of size, signed at) matches, with the chain head at head.
type signedChecker struct {
	size, head int64
	at         time.Time
}

func (s signedChecker) VerifyLatest(context.Context) (*proof.Checkpoint, error) {
	return &proof.Checkpoint{Origin: "cs.example.com/audit", Size: s.size, Root: make([]byte, 32), CreatedAt: s.at}, nil
}

func (signedChecker) VerifierKey() string { return "cs.example.com/audit+01234567+AAAA" }

func (s signedChecker) ChainHead(context.Context) (int64, error) { return s.head, nil }

// TestIntegrityPageSaysWhatIsNotYetSigned: events newer than the latest
// checkpoint are counted, with when the next checkpoint is due from the
// configured interval; with none newer the page says all are covered.
func TestIntegrityPageSaysWhatIsNotYetSigned(t *testing.T) {
	signed := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := signed.Add(4 * time.Minute)
	get := func(c IntegrityChecker) *goquery.Document {
		t.Helper()
		e := echo.New()
		h := NewIntegrity(c, IntegrityOptions{Now: func() time.Time { return now }, CheckpointInterval: 10 * time.Minute})
		e.GET("/audit/integrity", h.Show, func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				session.WithUser(c, userAuditor)
				return next(c)
			}
		})
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/audit/integrity", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		doc, err := goquery.NewDocumentFromReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		return doc
	}
	doc := get(signedChecker{size: 15, head: 22, at: signed})
	text := strings.Join(strings.Fields(doc.Find(`[data-testid="integrity-unsigned"]`).Text()), " ")
	if n := doc.Find(`[data-testid="integrity-unsigned-n"]`).Text(); n != "7" || !strings.Contains(text, "7 newer events are not yet under a signed checkpoint (events 16–22)") {
		t.Fatalf("unsigned: %q", text)
	}
	if next := doc.Find(`[data-testid="integrity-next"] time`).AttrOr("datetime", ""); next != "2026-03-01T12:10:00Z" {
		t.Fatalf("next checkpoint %q in %q", next, text)
	}
	if !strings.Contains(text, "every 10 min") {
		t.Fatalf("interval not said: %q", text)
	}
	doc = get(signedChecker{size: 22, head: 22, at: signed})
	if text := doc.Find(`[data-testid="integrity-unsigned"]`).Text(); !strings.Contains(text, "Every event in the log is under this checkpoint") {
		t.Fatalf("all signed: %q", text)
	}
}

// TestIntegrityPagePending: while the stored tree state is being caught up
// the page says so (status 200, state "pending") instead of computing on
// the request path or showing an error.
func TestIntegrityPagePending(t *testing.T) {
	e := echo.New()
	e.GET("/audit/integrity", NewIntegrity(pendingChecker{}, IntegrityOptions{}).Show, func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			session.WithUser(c, userAuditor)
			return next(c)
		}
	})
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/audit/integrity", nil))
	doc, err := goquery.NewDocumentFromReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	state, _ := doc.Find(`[data-testid="integrity"]`).Attr("data-state")
	if rec.Code != http.StatusOK || state != "pending" || strings.TrimSpace(doc.Find(`[data-testid="integrity-size"]`).Text()) != "42" ||
		!strings.Contains(doc.Find(`[data-testid="integrity-status"]`).Text(), "being brought up") {
		t.Fatalf("status %d, state %q, %q", rec.Code, state, doc.Find(`[data-testid="integrity"]`).Text())
	}
}
