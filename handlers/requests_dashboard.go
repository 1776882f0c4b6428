package handlers

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/templates/pages"
)

// Dashboard serves GET / for a signed-in person: pending requests they may
// decide, soonest-expiring first (filterable, keyset-paged), then their own
// requests, then recent decisions, with per-state counts on top. Each
// section is there only for people who can use it: someone whose roles
// never decide gets no empty "needs your decision" list.
func (h *Requests) Dashboard(c echo.Context) error {
	u, q, err := signedInList(c)
	if err != nil {
		return err
	}
	q.State = "" // the dashboard's list is always the pending, actionable ones
	ctx := c.Request().Context()
	now := h.now()

	v := pages.DashboardView{
		UserName:          firstNonEmpty(u.Name, u.Username, u.Subject),
		MissingRolesClaim: u.MissingRolesClaim,
		CanDecide:         h.svc.MayEverDecide(u.Approver()),
		ShowRecent:        h.svc.SeesAll(u.Approver()),
	}
	if v.CanDecide {
		f := q.filter(approval.DefaultPageSize)
		f.ExpiringFirst = true
		page, err := h.svc.ListActionable(ctx, u.Approver(), f)
		if err != nil {
			return fmt.Errorf("dashboard: requests to decide: %w", err)
		}
		if err := h.svc.LoadTriage(ctx, page.Items); err != nil {
			return fmt.Errorf("dashboard: %w", err)
		}
		v.Filters, v.Actionable, v.Pager = q.form("/", nil), h.requestRows(page.Items, now), q.pager("/", page)
	}
	if u.Username != "" {
		mine, err := h.svc.ListByRequester(ctx, u.Username, dashboardMine)
		if err != nil {
			return fmt.Errorf("dashboard: own requests: %w", err)
		}
		if err := h.svc.LoadTriage(ctx, mine); err != nil {
			return fmt.Errorf("dashboard: %w", err)
		}
		v.Mine = h.requestRows(mine, now)
		v.MineURL = listQuery{Requester: u.Username}.url("/requests", "")
	}
	if h.svc.SeesAll(u.Approver()) {
		recent, err := h.svc.RecentDecisions(ctx, dashboardRecent)
		if err != nil {
			return fmt.Errorf("dashboard: recent decisions: %w", err)
		}
		v.Recent = decisionRows(recent, now)
		if v.Counts, err = h.stateCounts(c); err != nil {
			return err
		}
	}
	return Render(c, http.StatusOK, pages.Dashboard(v))
}

// List serves GET /requests: every request, filterable by state, requester,
// channel and action, newest first, keyset-paged. People without a role see
// only their own.
func (h *Requests) List(c echo.Context) error {
	u, q, err := signedInList(c)
	if err != nil {
		return err
	}
	v := pages.RequestListView{Filters: q.form("/requests", stateNames()), OnlyOwn: !h.svc.SeesAll(u.Approver())}
	f := q.filter(approval.DefaultPageSize)
	if v.OnlyOwn {
		if u.Username == "" {
			return Render(c, http.StatusOK, pages.RequestList(v))
		}
		f.Requester = u.Username
	}
	page, err := h.svc.List(c.Request().Context(), f)
	if err != nil {
		return fmt.Errorf("request list: %w", err)
	}
	if err := h.svc.LoadTriage(c.Request().Context(), page.Items); err != nil {
		return fmt.Errorf("request list: %w", err)
	}
	v.Rows = h.requestRows(page.Items, h.now())
	v.Pager = q.pager("/requests", page)
	if !v.OnlyOwn {
		if v.Counts, err = h.stateCounts(c); err != nil {
			return err
		}
	}
	return Render(c, http.StatusOK, pages.RequestList(v))
}
