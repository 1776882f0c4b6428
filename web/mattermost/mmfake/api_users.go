package mmfake

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"

	"github.com/mattermost/mattermost/server/public/model"
)

// getMe serves GET /users/me: the caller's own, unsanitized view.
func (s *Server) getMe(w http.ResponseWriter, _ *http.Request, caller string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeFound(w, s.users, caller, "app.user.missing_account.const", "Unable to find the user.")
}

// getUser serves GET /users/{user_id}. Other users' notify_props and
// last_password_update are left out, as in user-human.json; a self-view
// keeps them, as in user-bot.json.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request, caller string) {
	id, ok := pathID(w, r, "user_id")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := found(w, s.users, id, "app.user.missing_account.const", "Unable to find the user.")
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, userView(u, caller))
}

// userView is u as caller sees it: other users' notify_props and
// last_password_update are left out, a self-view keeps them.
func userView(u *model.User, caller string) *model.User {
	view := u.DeepCopy()
	if u.Id != caller {
		view.NotifyProps = nil
		view.LastPasswordUpdate = 0
	}
	return view
}

// getBot serves GET /bots/{bot_user_id} with the server's visibility rule
// (see canReadBot): a bot the caller may not read answers 404.
func (s *Server) getBot(w http.ResponseWriter, r *http.Request, caller string) {
	id, ok := pathID(w, r, "bot_user_id")
	if !ok {
		return
	}
	includeDeleted, _ := strconv.ParseBool(r.URL.Query().Get("include_deleted"))
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bots[id]
	if !ok || (b.DeleteAt != 0 && !includeDeleted) || !s.canReadBot(caller, b) {
		writeError(w, http.StatusNotFound, "store.sql_bot.get.missing.app_error", "Unable to find bot.")
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// getTeam serves GET /teams/{team_id}.
func (s *Server) getTeam(w http.ResponseWriter, r *http.Request, _ string) {
	id, ok := pathID(w, r, "team_id")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	writeFound(w, s.teams, id, "app.team.get.find.app_error", "Unable to find the existing team.")
}

// getUserByUsername serves GET /users/username/{username} like GET
// /users/{user_id}: 404 for an unknown name.
func (s *Server) getUserByUsername(w http.ResponseWriter, r *http.Request, caller string) {
	name := r.PathValue("username")
	if !model.IsValidUsername(name) {
		badID(w, "username")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.Username != name {
			continue
		}
		writeJSON(w, http.StatusOK, userView(u, caller))
		return
	}
	writeError(w, http.StatusNotFound, "app.user.missing_account.const", "Unable to find the user.")
}

// getUsersByIds serves POST /users/ids: the accounts of a JSON array of
// ids, in one answer, each sanitized as GET /users/{id} sanitizes it. As
// on the server, ids without an account are simply absent from the answer
// (deactivated accounts are included, with their delete_at), the order is
// not that of the request, and an empty or malformed body is a 400.
func (s *Server) getUsersByIds(w http.ResponseWriter, r *http.Request, caller string) {
	if r.URL.Query().Has("since") {
		writeError(w, http.StatusNotImplemented, "mmfake.not_implemented", "mmfake: users/ids?since= is not implemented; see README.md to add it")
		return
	}
	ids, ok := idList(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*model.User, 0, len(ids))
	for _, id := range ids {
		u, ok := s.users[id]
		if !ok {
			continue
		}
		out = append(out, userView(u, caller))
	}
	writeJSON(w, http.StatusOK, out)
}

// idList reads the JSON array of ids that the batch endpoints take,
// de-duplicated and sorted like model.SortedArrayFromJSON does on the
// server; an empty or malformed array answers 400.
func idList(w http.ResponseWriter, r *http.Request) ([]string, bool) {
	var ids []string
	if err := json.NewDecoder(r.Body).Decode(&ids); err != nil || len(ids) == 0 {
		writeError(w, http.StatusBadRequest, "api.context.invalid_body_param.app_error", "Invalid or missing user_ids in request body.")
		return nil, false
	}
	slices.Sort(ids)
	return slices.Compact(ids), true
}
