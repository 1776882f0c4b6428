package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit/search"
	"github.com/countersign/countersign/templates/pages"
)

// Search serves GET /audit: the filter form and one page of results. A
// malformed filter is shown on the page with status 400, the form kept as
// typed.
func (h *AuditLog) Search(c echo.Context) error {
	if _, err := auditor(c); err != nil {
		return err
	}
	raw := c.QueryParams()
	v := pages.AuditSearchView{Form: auditForm(raw), PageStart: raw.Get("before") == ""}
	q, err := search.ParseQuery(raw)
	var page *search.Page
	if err == nil {
		page, err = h.search.Search(c.Request().Context(), q)
	}
	var ve *models.ValidationError
	if errors.As(err, &ve) {
		v.Error = fmt.Sprintf("Check the %s filter: %s.", ve.Field, ve.Reason)
		acceptedExports(&v, raw, ve.Field)
		return Render(c, http.StatusBadRequest, pages.AuditSearch(v))
	}
	if err != nil {
		return fmt.Errorf("audit search: %w", err)
	}
	share := q.Values()
	if raw.Get("limit") != "" {
		share.Set("limit", strconv.Itoa(q.Limit))
	}
	v.FirstURL = "/audit?" + share.Encode()
	setExports(&v, q)
	v.More = page.Next != 0
	if page.Next != 0 {
		next := cloneValues(share)
		next.Set("before", strconv.FormatInt(page.Next, 10))
		v.NextURL = "/audit?" + next.Encode()
	}
	now := h.now()
	for i := range page.Hits {
		v.Rows = append(v.Rows, h.auditRow(&page.Hits[i], q.Terms, now))
	}
	return Render(c, http.StatusOK, pages.AuditSearch(v))
}

// setExports links the exports of q's results.
func setExports(v *pages.AuditSearchView, q search.Query) {
	enc := q.Values().Encode()
	v.ExportCSV, v.ExportJSONL = "/audit/export.csv?"+enc, "/audit/export.jsonl?"+enc
}

// acceptedExports keeps the export links on a refused search: they carry
// the filters that were accepted, and ExportNote names the refused ones
// left out, so an auditor still sees where the exports are and exactly
// what they would hold. When leaving filters out does not give a valid
// search, there are no links.
func acceptedExports(v *pages.AuditSearchView, raw url.Values, refused string) {
	kept := cloneValues(raw)
	kept.Del("before")
	var left []string
	for range len(raw) + 1 {
		kept.Del(refused)
		left = append(left, refused)
		q, err := search.ParseQuery(kept)
		var ve *models.ValidationError
		switch {
		case err == nil:
			setExports(v, q)
			v.ExportNote = "These exports leave out the refused " + strings.Join(left, " and ") + " filter."
			return
		case !errors.As(err, &ve) || slices.Contains(left, ve.Field):
			return
		}
		refused = ve.Field
	}
}

// auditRow is the view of one result; terms are the purpose search's, to
// mark what matched.
func (h *AuditLog) auditRow(hit *search.Hit, terms []search.TextTerm, now time.Time) pages.AuditRow {
	e := &hit.Event
	r := pages.AuditRow{
		Seq: strconv.FormatInt(e.Seq, 10), At: timeView(time.UnixMicro(e.AtUnixUS), now), Type: e.Type,
		Actor: firstNonEmpty(e.ActorDisplay, e.ActorID), ActorID: e.ActorID, ActorType: string(e.ActorType),
		RequestID: e.RequestID, Purpose: e.Purpose, Action: e.Action,
		RequestState: string(hit.Request.State), Channel: hit.Request.ChannelName,
	}
	if len(terms) > 0 {
		for _, seg := range search.Highlight(e.Purpose, terms) {
			r.PurposeParts = append(r.PurposeParts, pages.TextPart{Text: seg.Text, Mark: seg.Match})
		}
	}
	if verdict, ok := strings.CutPrefix(e.Type, "decision."); ok && models.Verdict(verdict).Valid() {
		r.Verdict = verdict
		if h.prover != nil {
			r.ReceiptURL = receiptPagePath(e.Seq)
		}
	}
	if e.RequestID != "" {
		r.RequestURL = requestPath(e.RequestID)
		if h.mmURL != "" && hit.Request.TeamName != "" && hit.Request.ThreadPostID() != "" {
			r.ThreadURL = h.mmURL + "/" + url.PathEscape(hit.Request.TeamName) + "/pl/" + url.PathEscape(hit.Request.ThreadPostID())
		}
	}
	return r
}

// receiptPath is where the receipt of event seq is downloaded (JSON).
func receiptPath(seq int64) string { return "/audit/receipt/" + strconv.FormatInt(seq, 10) }

// receiptPagePath is the page that explains the receipt of event seq.
func receiptPagePath(seq int64) string { return receiptPath(seq) + "/view" }

// auditForm echoes the submitted filters into the form.
func auditForm(v url.Values) pages.AuditSearchForm {
	f := pages.AuditSearchForm{
		Actor: v.Get("actor"), Purpose: v.Get("purpose"), Action: v.Get("action"), Channel: v.Get("channel"),
		From: v.Get("from"), To: v.Get("to"),
	}
	role := v.Get("role")
	for _, o := range []pages.Option{{Value: "", Label: "any part"}, {Value: string(search.RoleActed), Label: "who acted"},
		{Value: string(search.RoleRequester), Label: "requester"}, {Value: string(search.RoleSponsor), Label: "agent's sponsor"}} {
		o.Selected = o.Value == role
		f.Roles = append(f.Roles, o)
	}
	verdict := v.Get("verdict")
	for _, o := range []pages.Option{{Value: "", Label: "any event"}, {Value: string(models.VerdictApprove), Label: "approvals"},
		{Value: string(models.VerdictDeny), Label: "denials"}} {
		o.Selected = o.Value == verdict
		f.Verdicts = append(f.Verdicts, o)
	}
	selected := map[string]bool{}
	for _, raw := range v["state"] {
		for _, s := range strings.Split(raw, ",") {
			selected[strings.TrimSpace(s)] = true
		}
	}
	for _, s := range models.AllStates {
		f.States = append(f.States, pages.Option{Value: string(s), Label: string(s), Selected: selected[string(s)]})
	}
	return f
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
