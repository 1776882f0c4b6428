package mmfake

import "github.com/mattermost/mattermost/server/public/model"

// The fake models only the permission rules that change what an
// integration sees. Team membership is not modelled: every user counts as
// a member of every team. Callers hold s.mu.

// isAdmin reports whether the user has the system_admin role, which holds
// every permission.
func (s *Server) isAdmin(userID string) bool {
	u, ok := s.users[userID]
	return ok && model.IsInRole(u.Roles, model.SystemAdminRoleId)
}

// has reports whether the user holds a permission, by role or grant.
func (s *Server) has(userID, permission string) bool {
	return s.isAdmin(userID) || s.grants[userID][permission]
}

// isMember reports channel membership.
func (s *Server) isMember(channelID, userID string) bool {
	_, ok := s.members[channelID][userID]
	return ok
}

// canRead mirrors HasPermissionToReadChannel: members read any channel,
// and anyone on the team reads a public one.
func (s *Server) canRead(userID string, ch *model.Channel) bool {
	return s.isAdmin(userID) || s.isMember(ch.Id, userID) || ch.Type == model.ChannelTypeOpen
}

// canPost requires membership (or the admin role), as create_post does.
func (s *Server) canPost(userID string, ch *model.Channel) bool {
	return s.isAdmin(userID) || s.isMember(ch.Id, userID)
}

// canReadBot mirrors api4 getBot: read_others_bots reads any bot; an owner
// reads their own; for everyone else the bot "does not exist" (404, not
// 403, so as not to reveal that the user is a bot).
func (s *Server) canReadBot(userID string, b *model.Bot) bool {
	return s.has(userID, model.PermissionReadOthersBots.Id) || b.OwnerId == userID
}
