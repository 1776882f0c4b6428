package mmfake

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/mattermost/mattermost/server/public/model"
)

// postList builds a PostList in the given order, as the server sends it.
func postList(posts []*model.Post, hasNext bool) *model.PostList {
	l := &model.PostList{Order: []string{}, Posts: map[string]*model.Post{}, HasNext: &hasNext}
	for _, p := range posts {
		l.Order = append(l.Order, p.Id)
		l.Posts[p.Id] = p
	}
	return l
}

// replyCount counts the live replies of a thread. Callers hold s.mu.
func (s *Server) replyCount(rootID string) int64 {
	var n int64
	for _, p := range s.posts {
		if p.RootId == rootID && p.DeleteAt == 0 {
			n++
		}
	}
	return n
}

// withReplyCount returns a copy of p carrying its thread's reply count, as
// single-post and thread responses do. Callers hold s.mu.
func (s *Server) withReplyCount(p *model.Post) *model.Post {
	c := p.Clone()
	root := p.RootId
	if root == "" {
		root = p.Id
	}
	c.ReplyCount = s.replyCount(root)
	return c
}

// postFor looks up a post and checks the caller may read its channel,
// answering itself when not. Deleted posts are "not found" unless
// includeDeleted. Callers hold s.mu.
func (s *Server) postFor(w http.ResponseWriter, r *http.Request, caller string, includeDeleted bool) (*model.Post, bool) {
	id, ok := pathID(w, r, "post_id")
	if !ok {
		return nil, false
	}
	p, ok := s.posts[id]
	if !ok || (p.DeleteAt != 0 && !includeDeleted) {
		writeError(w, http.StatusNotFound, "app.post.get.app_error", "Unable to get the post.")
		return nil, false
	}
	ch, ok := s.channels[p.ChannelId]
	if !ok || !s.canRead(caller, ch) {
		forbidden(w)
		return nil, false
	}
	return p, true
}

// getPost serves GET /posts/{post_id}. include_deleted=true needs the
// read_deleted_posts permission (administrators), as deleted-post-admin.json
// was fetched; everyone else gets 404 for a deleted post.
func (s *Server) getPost(w http.ResponseWriter, r *http.Request, caller string) {
	includeDeleted, _ := strconv.ParseBool(r.URL.Query().Get("include_deleted"))
	s.mu.Lock()
	defer s.mu.Unlock()
	if includeDeleted && !s.has(caller, model.PermissionReadDeletedPosts.Id) {
		forbidden(w)
		return
	}
	p, ok := s.postFor(w, r, caller, includeDeleted)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.withReplyCount(p))
}

// getPostThread serves GET /posts/{post_id}/thread from any post of the
// thread: the root and its live replies, oldest first, each with the
// thread's reply count. Deleted posts are simply absent, as on the server.
func (s *Server) getPostThread(w http.ResponseWriter, r *http.Request, caller string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.postFor(w, r, caller, false)
	if !ok {
		return
	}
	rootID := p.Id
	if p.RootId != "" {
		rootID = p.RootId
	}
	root, ok := s.posts[rootID]
	if !ok || root.DeleteAt != 0 {
		writeError(w, http.StatusNotFound, "app.post.get.app_error", "Unable to get the post.")
		return
	}
	posts := []*model.Post{s.withReplyCount(root)}
	for _, q := range s.posts {
		if q.RootId == rootID && q.DeleteAt == 0 {
			posts = append(posts, s.withReplyCount(q))
		}
	}
	sortByCreateAt(posts, false)
	writeJSON(w, http.StatusOK, postList(posts, false))
}

// createPost serves POST /posts. The caller must be able to post in the
// channel; a reply's root must be a live root post of the same channel. A
// repeated pending_post_id returns the post already created, which is what
// makes a retried create safe on a real server too.
func (s *Server) createPost(w http.ResponseWriter, r *http.Request, caller string) {
	var in model.Post
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || !model.IsValidId(in.ChannelId) {
		writeError(w, http.StatusBadRequest, "api.context.invalid_body_param.app_error", "Invalid or missing post in request body.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[in.ChannelId]
	if !ok || !s.canPost(caller, ch) {
		forbidden(w)
		return
	}
	if in.RootId != "" {
		root, ok := s.posts[in.RootId]
		if !ok || root.DeleteAt != 0 || root.RootId != "" || root.ChannelId != in.ChannelId {
			writeError(w, http.StatusBadRequest, "api.post.create_post.root_id.app_error", "Invalid RootId parameter.")
			return
		}
	}
	if in.PendingPostId != "" {
		if id, ok := s.pending[in.PendingPostId]; ok {
			writeJSON(w, http.StatusCreated, s.withReplyCount(s.posts[id]))
			return
		}
	}
	now := s.millis()
	p := &model.Post{
		Id: model.NewId(), CreateAt: now, UpdateAt: now, UserId: caller, ChannelId: in.ChannelId,
		RootId: in.RootId, Message: in.Message, Type: in.Type, Props: model.StringInterface{},
		PendingPostId: in.PendingPostId, RemoteId: new(""), Metadata: &model.PostMetadata{},
	}
	for k, v := range in.GetProps() {
		p.Props[k] = v
	}
	if u, ok := s.users[caller]; ok && u.IsBot {
		p.Props[model.PostPropsFromBot] = "true"
	}
	s.posts[p.Id] = p
	if in.PendingPostId != "" {
		s.pending[in.PendingPostId] = p.Id
	}
	if root, ok := s.posts[p.RootId]; ok {
		root.UpdateAt = now
	}
	writeJSON(w, http.StatusCreated, s.withReplyCount(p))
}

// patchPost serves PUT /posts/{post_id}/patch. Authors patch their own
// posts; others need edit_others_posts. A changed message sets edit_at.
func (s *Server) patchPost(w http.ResponseWriter, r *http.Request, caller string) {
	var patch model.PostPatch
	if err := json.NewDecoder(r.Body).Decode(&patch); err != nil {
		writeError(w, http.StatusBadRequest, "api.context.invalid_body_param.app_error", "Invalid or missing patch in request body.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.postFor(w, r, caller, false)
	if !ok {
		return
	}
	if p.UserId != caller && !s.has(caller, model.PermissionEditOthersPosts.Id) {
		forbidden(w)
		return
	}
	now := s.millis()
	if patch.Message != nil && *patch.Message != p.Message {
		p.Message = *patch.Message
		p.EditAt = now
	}
	if patch.Props != nil {
		props := model.StringInterface{}
		for k, v := range *patch.Props {
			props[k] = v
		}
		p.Props = props
	}
	if patch.IsPinned != nil {
		p.IsPinned = *patch.IsPinned
	}
	p.UpdateAt = now
	writeJSON(w, http.StatusOK, s.withReplyCount(p))
}

// deletePost serves DELETE /posts/{post_id}: authors delete their own
// posts; others need delete_others_posts.
func (s *Server) deletePost(w http.ResponseWriter, r *http.Request, caller string) {
	s.mu.Lock()
	p, ok := s.postFor(w, r, caller, false)
	if !ok {
		s.mu.Unlock()
		return
	}
	if p.UserId != caller && !s.has(caller, model.PermissionDeleteOthersPosts.Id) {
		s.mu.Unlock()
		forbidden(w)
		return
	}
	id := p.Id
	s.mu.Unlock()
	if err := s.Delete(id, caller); err != nil {
		writeError(w, http.StatusNotFound, "app.post.get.app_error", "Unable to get the post.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "OK"})
}
