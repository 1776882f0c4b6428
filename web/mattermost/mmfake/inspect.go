package mmfake

import "github.com/mattermost/mattermost/server/public/model"

// Posts returns copies of every stored post — in every channel, direct
// messages included, deleted ones too — oldest first. Fault and load
// tests use it to check what was posted overall (for example that no
// message was posted twice), where ChannelPosts would need each DM
// channel's id.
func (s *Server) Posts() []*model.Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*model.Post, 0, len(s.posts))
	for _, p := range s.posts {
		out = append(out, p.Clone())
	}
	sortByCreateAt(out, false)
	return out
}
