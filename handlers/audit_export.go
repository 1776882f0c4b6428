package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit/bundle"
	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/models/audit/search"
)

// ExportCSV serves GET /audit/export.csv: the search's events as CSV.
func (h *AuditLog) ExportCSV(c echo.Context) error {
	return h.export(c, search.ExportCSV, "text/csv; charset=utf-8")
}

// ExportJSONL serves GET /audit/export.jsonl: the search's events as JSON
// Lines, one event per line as in bundles.
func (h *AuditLog) ExportJSONL(c echo.Context) error {
	return h.export(c, search.ExportJSONL, "application/x-ndjson")
}

// export streams every event matching the query string. Filters are
// checked before anything is written, so a malformed one answers 400; a
// failure mid-stream can only cut the download short (and is logged).
func (h *AuditLog) export(c echo.Context, format search.ExportFormat, contentType string) error {
	if _, err := auditor(c); err != nil {
		return err
	}
	q, err := search.ParseQuery(c.QueryParams())
	if err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	name := fmt.Sprintf("countersign-audit-%s.%s", h.now().UTC().Format("20060102T150405Z"), format)
	setDownload(c, contentType, name)
	c.Response().WriteHeader(http.StatusOK)
	if _, err := h.search.Export(c.Request().Context(), c.Response(), format, q); err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	return nil
}

// Bundle serves GET /audit/bundle?from=N&to=M: a signed audit bundle of
// events N..M (both optional: from the first, to the newest) for offline
// verification with `countersign audit verify --bundle`.
func (h *AuditLog) Bundle(c echo.Context) error {
	if _, err := auditor(c); err != nil {
		return err
	}
	if h.prover == nil {
		return fmt.Errorf("audit bundle: no checkpoint signer: %w", models.ErrNotFound)
	}
	from, err := seqParam(c, "from")
	if err != nil {
		return err
	}
	to, err := seqParam(c, "to")
	if err != nil {
		return err
	}
	if from > 0 && to > 0 && from > to {
		return fmt.Errorf("audit bundle: %w", models.Invalid("to", "must not be before from"))
	}
	// The bundle is written to a buffer-backed writer that only commits
	// the response on its first write, so a refused range still gets an
	// error page.
	w := &lazyDownload{c: c, contentType: "application/x-ndjson",
		name: fmt.Sprintf("countersign-audit-bundle-%d-%s.jsonl", max(from, 1), strconv.FormatInt(to, 10))}
	if err := bundle.Write(c.Request().Context(), h.prover, w, from, to); err != nil {
		return fmt.Errorf("audit bundle: %w", err)
	}
	return nil
}

// Receipt serves GET /audit/receipt/:seq: the receipt of one event (the
// event, its inclusion proof and a signed checkpoint), verifiable offline
// with `countersign audit verify-receipt`. Auditors may fetch any; others
// the events of requests they may see, and otherwise get 404.
func (h *AuditLog) Receipt(c echo.Context) error {
	seq, rc, err := h.receipt(c)
	if err != nil {
		return err
	}
	body, err := json.MarshalIndent(rc, "", "  ")
	if err != nil {
		return fmt.Errorf("receipt: encode: %w", err)
	}
	setDownload(c, "application/json", receiptFileName(seq))
	return c.Blob(http.StatusOK, "application/json", append(body, '\n'))
}

// receipt reads the :seq parameter, checks that the signed-in person may
// see that event (see Receipt) and returns its receipt.
func (h *AuditLog) receipt(c echo.Context) (int64, *proof.Receipt, error) {
	u, err := signedIn(c)
	if err != nil {
		return 0, nil, err
	}
	if h.prover == nil {
		return 0, nil, fmt.Errorf("receipt: no checkpoint signer: %w", models.ErrNotFound)
	}
	seq, err := strconv.ParseInt(c.Param("seq"), 10, 64)
	if err != nil || seq < 1 {
		return 0, nil, fmt.Errorf("receipt: event %q: %w", c.Param("seq"), models.ErrNotFound)
	}
	ctx := c.Request().Context()
	if !search.MaySearch(u.Roles) {
		id, err := h.prover.EventRequest(ctx, seq)
		if err != nil {
			return 0, nil, fmt.Errorf("receipt: %w", err)
		}
		if id == "" || h.requests == nil {
			return 0, nil, fmt.Errorf("receipt: event %d hidden from %s: %w", seq, u.Subject, models.ErrNotFound)
		}
		r, err := h.requests.Get(ctx, id)
		if err != nil {
			return 0, nil, fmt.Errorf("receipt: %w", err)
		}
		if !h.requests.MayView(r, u.Approver()) {
			return 0, nil, fmt.Errorf("receipt: event %d hidden from %s: %w", seq, u.Subject, models.ErrNotFound)
		}
	}
	rc, err := h.prover.Receipt(ctx, seq)
	if err != nil {
		return 0, nil, fmt.Errorf("receipt: %w", err)
	}
	return seq, rc, nil
}

// receiptFileName is the name a downloaded receipt is saved under; the
// receipt page's verify command names the same file.
func receiptFileName(seq int64) string { return fmt.Sprintf("countersign-receipt-%d.json", seq) }

// seqParam reads an optional event number from the query string.
func seqParam(c echo.Context, name string) (int64, error) {
	s := strings.TrimSpace(c.QueryParam(name))
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("audit bundle: %w", models.Invalid(name, fmt.Sprintf("%q is not an event number", s)))
	}
	return n, nil
}

// setDownload marks the response as a file download.
func setDownload(c echo.Context, contentType, name string) {
	hd := c.Response().Header()
	hd.Set(echo.HeaderContentType, contentType)
	hd.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename=%q`, name))
	hd.Set("Cache-Control", "no-store")
}

// lazyDownload sets the download headers and status on its first write.
type lazyDownload struct {
	c                 echo.Context
	contentType, name string
	started           bool
}

func (w *lazyDownload) Write(p []byte) (int, error) {
	if !w.started {
		w.started = true
		setDownload(w.c, w.contentType, w.name)
		w.c.Response().WriteHeader(http.StatusOK)
	}
	return w.c.Response().Write(p)
}
