package handlers

import (
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/templates/partials"
	"github.com/countersign/countersign/web/session"
)

// listQuery is the query string of a request list. It is bound from the URL
// only, and validated by the domain's Filter (lengths, states, cursor).
type listQuery struct {
	State     string `query:"state"`
	Requester string `query:"requester"`
	Channel   string `query:"channel"`
	Action    string `query:"action"`
	Purpose   string `query:"purpose"`
	// After is the opaque keyset cursor of the previous page's last row.
	After string `query:"after"`
}

// signedInList returns the signed-in person and the list query of a
// request list page (401 without a session, 400 for a bad query).
func signedInList(c echo.Context) (*session.User, listQuery, error) {
	u, err := signedIn(c)
	if err != nil {
		return nil, listQuery{}, err
	}
	q, err := bindListQuery(c)
	return u, q, err
}

// bindListQuery reads the list's query string into a listQuery.
func bindListQuery(c echo.Context) (listQuery, error) {
	var q listQuery
	if err := (&echo.DefaultBinder{}).BindQueryParams(c, &q); err != nil {
		return q, err
	}
	for _, s := range []*string{&q.State, &q.Requester, &q.Channel, &q.Action, &q.Purpose, &q.After} {
		*s = strings.TrimSpace(*s)
	}
	return q, nil
}

// filter turns the query into the domain's filter.
func (q listQuery) filter(limit int) approval.Filter {
	f := approval.Filter{Requester: q.Requester, Channel: q.Channel, Action: q.Action, Purpose: q.Purpose, After: q.After, Limit: limit}
	if q.State != "" {
		f.States = []models.State{models.State(q.State)}
	}
	return f
}

// active reports whether any filter (not the cursor) is set.
func (q listQuery) active() bool {
	return q.State != "" || q.Requester != "" || q.Channel != "" || q.Action != "" || q.Purpose != ""
}

// url returns path with the query's filters and the given cursor, so a
// filtered, paged view can be bookmarked and shared.
func (q listQuery) url(path, after string) string {
	v := url.Values{}
	for k, s := range map[string]string{"state": q.State, "requester": q.Requester, "channel": q.Channel, "action": q.Action, "purpose": q.Purpose, "after": after} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// form returns the filter form's state.
func (q listQuery) form(path string, states []string) partials.Filters {
	return partials.Filters{
		Path: path, Requester: q.Requester, Channel: q.Channel, Action: q.Action, Purpose: q.Purpose,
		State: q.State, States: states, Active: q.active(),
	}
}

// pager returns the links around a page: to the next (older) page when
// there is one, and back to the newest when this is not the first page.
func (q listQuery) pager(path string, p *approval.Page) partials.Pager {
	var out partials.Pager
	if p.Next != "" {
		out.OlderURL = q.url(path, p.Next)
	}
	if q.After != "" {
		out.NewestURL = q.url(path, "")
	}
	return out
}

// stateNames lists every state for the state filter.
func stateNames() []string {
	out := make([]string, len(models.AllStates))
	for i, s := range models.AllStates {
		out[i] = string(s)
	}
	return out
}
