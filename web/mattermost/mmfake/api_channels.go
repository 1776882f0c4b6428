package mmfake

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/mattermost/mattermost/server/public/model"
)

// Paging limits of GET /channels/{id}/posts on a real server.
const (
	defaultPerPage = 60
	maxPerPage     = 200
)

// channelFor looks up a channel and checks the caller may read it,
// answering 400/404/403 itself when not. Callers hold s.mu.
func (s *Server) channelFor(w http.ResponseWriter, r *http.Request, caller string) (*model.Channel, bool) {
	id, ok := pathID(w, r, "channel_id")
	if !ok {
		return nil, false
	}
	ch, ok := s.channels[id]
	if !ok {
		writeError(w, http.StatusNotFound, "app.channel.get.existing.app_error", "Unable to find the existing channel.")
		return nil, false
	}
	if !s.canRead(caller, ch) {
		forbidden(w)
		return nil, false
	}
	return ch, true
}

// getChannel serves GET /channels/{channel_id}.
func (s *Server) getChannel(w http.ResponseWriter, r *http.Request, caller string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channelFor(w, r, caller)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, ch)
}

// getChannelMember serves GET /channels/{channel_id}/members/{user_id}:
// 404 when the user is not a member.
func (s *Server) getChannelMember(w http.ResponseWriter, r *http.Request, caller string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channelFor(w, r, caller)
	if !ok {
		return
	}
	userID, ok := pathID(w, r, "user_id")
	if !ok {
		return
	}
	m, ok := found(w, s.members[ch.Id], userID, "app.channel.get_member.missing.app_error", "No channel member found for that user ID and channel ID.")
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// getChannelMembersByIds serves POST /channels/{channel_id}/members/ids:
// the memberships of a JSON array of user ids in one answer
// (model.ChannelMembers). Users who are not members are simply absent, as
// on the server; the caller must be able to read the channel.
func (s *Server) getChannelMembersByIds(w http.ResponseWriter, r *http.Request, caller string) {
	ids, ok := idList(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channelFor(w, r, caller)
	if !ok {
		return
	}
	out := make(model.ChannelMembers, 0, len(ids))
	for _, id := range ids {
		if m, ok := s.members[ch.Id][id]; ok {
			out = append(out, *m)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// getChannelPosts serves GET /channels/{channel_id}/posts in its two
// modes. With since: every post updated after that time, deleted ones
// included (clients sync deletions that way). Otherwise a page (page,
// per_page; default 60, at most 200) of live posts, newest first. Channel
// lists carry reply_count 0, as channel-postlist.json shows.
func (s *Server) getChannelPosts(w http.ResponseWriter, r *http.Request, caller string) {
	q := r.URL.Query()
	if q.Has("before") || q.Has("after") {
		writeError(w, http.StatusNotImplemented, "mmfake.not_implemented", "mmfake: before/after paging is not implemented; see README.md to add it")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channelFor(w, r, caller)
	if !ok {
		return
	}
	includeDeleted, _ := strconv.ParseBool(q.Get("include_deleted"))
	if includeDeleted && !s.has(caller, model.PermissionReadDeletedPosts.Id) {
		forbidden(w)
		return
	}
	var posts []*model.Post
	if q.Has("since") {
		since, err := strconv.ParseInt(q.Get("since"), 10, 64)
		if err != nil {
			badID(w, "since")
			return
		}
		for _, p := range s.posts {
			if p.ChannelId == ch.Id && p.UpdateAt > since {
				posts = append(posts, p.Clone())
			}
		}
		sortByCreateAt(posts, true)
		writeJSON(w, http.StatusOK, postList(posts, false))
		return
	}
	page, err1 := intParam(q.Get("page"), 0)
	perPage, err2 := intParam(q.Get("per_page"), defaultPerPage)
	if err1 != nil || err2 != nil || page < 0 || perPage < 0 {
		badID(w, "page")
		return
	}
	perPage = min(perPage, maxPerPage)
	for _, p := range s.posts {
		if p.ChannelId == ch.Id && (p.DeleteAt == 0 || includeDeleted) {
			posts = append(posts, p.Clone())
		}
	}
	sortByCreateAt(posts, true)
	start := min(page*perPage, len(posts))
	end := min(start+perPage, len(posts))
	writeJSON(w, http.StatusOK, postList(posts[start:end], end < len(posts)))
}

// createDirectChannel serves POST /channels/direct: the DM channel of two
// users, created on first use (201) like the server does.
func (s *Server) createDirectChannel(w http.ResponseWriter, r *http.Request, caller string) {
	var ids []string
	if err := json.NewDecoder(r.Body).Decode(&ids); err != nil || len(ids) != 2 || !model.IsValidId(ids[0]) || !model.IsValidId(ids[1]) {
		writeError(w, http.StatusBadRequest, "api.context.invalid_body_param.app_error", "Invalid or missing user_ids in request body.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if caller != ids[0] && caller != ids[1] && !s.isAdmin(caller) {
		forbidden(w)
		return
	}
	for _, id := range ids {
		if _, ok := s.users[id]; !ok {
			writeError(w, http.StatusBadRequest, "api.channel.create_direct_channel.invalid_user.app_error", "Invalid user ID for direct channel creation.")
			return
		}
	}
	name := model.GetDMNameFromIds(ids[0], ids[1])
	for _, ch := range s.channels {
		if ch.Type == model.ChannelTypeDirect && ch.Name == name {
			writeJSON(w, http.StatusCreated, ch)
			return
		}
	}
	now := s.millis()
	ch := &model.Channel{Id: model.NewId(), CreateAt: now, UpdateAt: now, Type: model.ChannelTypeDirect, Name: name, CreatorId: caller}
	s.channels[ch.Id] = ch
	s.members[ch.Id] = map[string]*model.ChannelMember{}
	for _, id := range ids {
		s.members[ch.Id][id] = &model.ChannelMember{ChannelId: ch.Id, UserId: id, Roles: "channel_user", SchemeUser: true, NotifyProps: model.GetDefaultChannelNotifyProps(), LastUpdateAt: now}
	}
	writeJSON(w, http.StatusCreated, ch)
}

// intParam parses an optional non-negative integer query parameter.
func intParam(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	return strconv.Atoi(s)
}
