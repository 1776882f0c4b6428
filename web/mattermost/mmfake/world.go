package mmfake

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/mattermost/mattermost/server/public/model"
)

// AddUser stores u as given (a copy), filling an id, create time and the
// system_user role when missing. Use it for users decoded from captured
// payloads; AddHuman and AddBot are shorter for made-up ones.
func (s *Server) AddUser(u *model.User) *model.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := u.DeepCopy()
	s.stamp(&c.Id, &c.CreateAt, &c.UpdateAt)
	if c.Roles == "" {
		c.Roles = model.SystemUserRoleId
	}
	s.users[c.Id] = c
	return c.DeepCopy()
}

// AddHuman adds a regular user account.
func (s *Server) AddHuman(username string) *model.User {
	return s.AddUser(&model.User{Username: username, Email: username + "@example.com", Locale: "en"})
}

// AddAdmin adds a system administrator (who may read deleted posts and
// others' bots, like on a real server).
func (s *Server) AddAdmin(username string) *model.User {
	return s.AddUser(&model.User{
		Username: username, Email: username + "@example.com", Locale: "en",
		Roles: model.SystemAdminRoleId + " " + model.SystemUserRoleId,
	})
}

// AddBot adds a bot account: a user with is_bot and a bot record naming its
// owner, as Mattermost keeps them.
func (s *Server) AddBot(username, ownerID string) *model.User {
	u := s.AddUser(&model.User{
		Username: username, Email: username + "@localhost", FirstName: username, Locale: "en",
		IsBot: true, BotDescription: username + " (mmfake)",
	})
	s.AddBotRecord(&model.Bot{UserId: u.Id, Username: username, DisplayName: username, OwnerId: ownerID, CreateAt: u.CreateAt, UpdateAt: u.CreateAt})
	return u
}

// AddBotRecord stores a bot record (GET /bots/{id}) as given.
func (s *Server) AddBotRecord(b *model.Bot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bots[b.UserId] = b.Clone()
}

// SetRoles replaces a user's roles, e.g. to make the integration's bot a
// system administrator for one test.
func (s *Server) SetRoles(userID, roles string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[userID]
	if !ok {
		return fmt.Errorf("mmfake: set roles: no user %s", userID)
	}
	u.Roles = roles
	return nil
}

// Revoke takes back a permission Grant gave.
func (s *Server) Revoke(userID, permission string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.grants[userID], permission)
}

// Grant gives a user one extra permission by id (for instance
// model.PermissionReadOthersBots.Id), the way an administrator would
// extend a role.
func (s *Server) Grant(userID, permission string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.grants[userID] == nil {
		s.grants[userID] = map[string]bool{}
	}
	s.grants[userID][permission] = true
}

// AddToken makes token authenticate as userID (a bot access token or a
// personal access token).
func (s *Server) AddToken(token, userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = userID
}

// NewToken issues a fresh random token for userID.
func (s *Server) NewToken(userID string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	s.AddToken(token, userID)
	return token
}

// AddTeam stores t as given (a copy).
func (s *Server) AddTeam(t *model.Team) *model.Team {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *t
	s.stamp(&c.Id, &c.CreateAt, &c.UpdateAt)
	if c.Type == "" {
		c.Type = model.TeamOpen
	}
	s.teams[c.Id] = &c
	cc := c
	return &cc
}

// NewTeam adds a team with this name.
func (s *Server) NewTeam(name string) *model.Team {
	return s.AddTeam(&model.Team{Name: name, DisplayName: name})
}

// AddChannel stores ch as given (a copy) and makes memberIDs members.
func (s *Server) AddChannel(ch *model.Channel, memberIDs ...string) *model.Channel {
	s.mu.Lock()
	c := ch.DeepCopy()
	s.stamp(&c.Id, &c.CreateAt, &c.UpdateAt)
	if c.Type == "" {
		c.Type = model.ChannelTypeOpen
	}
	s.channels[c.Id] = c
	if s.members[c.Id] == nil {
		s.members[c.Id] = map[string]*model.ChannelMember{}
	}
	s.mu.Unlock()
	for _, id := range memberIDs {
		s.AddMember(c.Id, id)
	}
	return c.DeepCopy()
}

// NewChannel adds a channel of type typ ("O" public, "P" private) to a team.
func (s *Server) NewChannel(teamID, name string, typ model.ChannelType, memberIDs ...string) *model.Channel {
	return s.AddChannel(&model.Channel{TeamId: teamID, Name: name, DisplayName: name, Type: typ}, memberIDs...)
}

// AddMember makes userID a member of channelID.
func (s *Server) AddMember(channelID, userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.members[channelID] == nil {
		s.members[channelID] = map[string]*model.ChannelMember{}
	}
	s.members[channelID][userID] = &model.ChannelMember{
		ChannelId: channelID, UserId: userID, Roles: "channel_user", SchemeUser: true,
		NotifyProps: model.GetDefaultChannelNotifyProps(), LastUpdateAt: s.millis(),
	}
}

// RemoveMember takes userID out of channelID.
func (s *Server) RemoveMember(channelID, userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.members[channelID], userID)
}

// AddPost stores p exactly as given (a copy): ids, times, props, root_id,
// edit_at and delete_at are kept, so captured payloads can be replayed.
// Missing id and times are filled; nil props and metadata become empty,
// as the server sends them.
func (s *Server) AddPost(p *model.Post) *model.Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := p.Clone()
	if c.Id == "" {
		c.Id = model.NewId()
	}
	if c.CreateAt == 0 {
		c.CreateAt = s.millis()
	}
	if c.UpdateAt == 0 {
		c.UpdateAt = c.CreateAt
	}
	if c.Props == nil {
		c.Props = model.StringInterface{}
	}
	if c.Metadata == nil {
		c.Metadata = &model.PostMetadata{}
	}
	c.ReplyCount = 0
	s.posts[c.Id] = c
	if c.CreateAt > s.lastMS {
		s.lastMS = c.CreateAt
	}
	return c.Clone()
}

// Post adds a top-level post by userID as POST /api/v4/posts would make it:
// remote_id "" and, for bot accounts, props.from_bot "true".
func (s *Server) Post(channelID, userID, message string) *model.Post {
	return s.AddPost(s.apiPost(&model.Post{ChannelId: channelID, UserId: userID, Message: message}))
}

// Reply adds a reply to rootID by userID as POST /api/v4/posts would.
func (s *Server) Reply(rootID, userID, message string) *model.Post {
	s.mu.Lock()
	channelID := ""
	if root, ok := s.posts[rootID]; ok {
		channelID = root.ChannelId
	}
	s.mu.Unlock()
	return s.AddPost(s.apiPost(&model.Post{ChannelId: channelID, RootId: rootID, UserId: userID, Message: message}))
}

// apiPost sets what the server sets on posts created through the API.
func (s *Server) apiPost(p *model.Post) *model.Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	p.RemoteId = new("")
	if p.Props == nil {
		p.Props = model.StringInterface{}
	}
	if u, ok := s.users[p.UserId]; ok && u.IsBot {
		p.Props[model.PostPropsFromBot] = "true"
	}
	return p
}

// WebhookPost adds a post as an incoming webhook created by creatorID
// makes it: top-level (webhooks cannot post into threads), user_id = the
// creator, props from_webhook, override_username (when not empty) and
// webhook_display_name, no remote_id.
func (s *Server) WebhookPost(channelID, creatorID, overrideUsername, message string) *model.Post {
	props := model.StringInterface{model.PostPropsFromWebhook: "true", "webhook_display_name": "mmfake hook"}
	if overrideUsername != "" {
		props[model.PostPropsOverrideUsername] = overrideUsername
	}
	return s.AddPost(&model.Post{ChannelId: channelID, UserId: creatorID, Message: message, Props: props})
}

// CommandReply adds the post Mattermost makes from a slash command's
// in_channel reply: the invoking user's id, from_webhook "true",
// override_icon_url "" and, when the reply named a username,
// override_username. rootID may be empty for a channel-level reply.
func (s *Server) CommandReply(channelID, rootID, invokerID, overrideUsername, message string) *model.Post {
	props := model.StringInterface{model.PostPropsFromWebhook: "true", model.PostPropsOverrideIconURL: ""}
	if overrideUsername != "" {
		props[model.PostPropsOverrideUsername] = overrideUsername
	}
	return s.AddPost(&model.Post{ChannelId: channelID, RootId: rootID, UserId: invokerID, Message: message, Props: props})
}

// SystemPost adds a system message (type must start with "system_").
func (s *Server) SystemPost(channelID, userID, typ, message string) *model.Post {
	return s.AddPost(&model.Post{ChannelId: channelID, UserId: userID, Type: typ, Message: message})
}

// Edit changes a post's message as its author would: edit_at and update_at
// become now.
func (s *Server) Edit(postID, message string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.posts[postID]
	if !ok || p.DeleteAt != 0 {
		return fmt.Errorf("mmfake: edit: no post %s", postID)
	}
	p.Message = message
	p.EditAt = s.millis()
	p.UpdateAt = p.EditAt
	return nil
}

// Delete deletes a post as byUserID would. Like the server, it blanks the
// message, sets delete_at and props.deleteBy; a deleted root takes its
// replies with it.
func (s *Server) Delete(postID, byUserID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.posts[postID]
	if !ok || p.DeleteAt != 0 {
		return fmt.Errorf("mmfake: delete: no post %s", postID)
	}
	now := s.millis()
	s.markDeleted(p, byUserID, now)
	if p.RootId == "" {
		for _, r := range s.posts {
			if r.RootId == p.Id && r.DeleteAt == 0 {
				s.markDeleted(r, byUserID, now)
			}
		}
	}
	return nil
}

func (s *Server) markDeleted(p *model.Post, by string, now int64) {
	p.DeleteAt = now
	p.UpdateAt = now
	p.Message = ""
	p.Props = model.StringInterface{model.PostPropsDeleteBy: by}
}

// PostByID returns a copy of a stored post, deleted or not, so tests can
// inspect what the code under test wrote.
func (s *Server) PostByID(postID string) (*model.Post, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.posts[postID]
	if !ok {
		return nil, false
	}
	return p.Clone(), true
}

// ChannelPosts returns copies of the live (not deleted) posts of a
// channel, oldest first.
func (s *Server) ChannelPosts(channelID string) []*model.Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*model.Post
	for _, p := range s.posts {
		if p.ChannelId == channelID && p.DeleteAt == 0 {
			out = append(out, p.Clone())
		}
	}
	sortByCreateAt(out, false)
	return out
}

// sortByCreateAt orders posts by create_at (ties by id), newest first when
// desc is true.
func sortByCreateAt(ps []*model.Post, desc bool) {
	sort.Slice(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.CreateAt != b.CreateAt {
			return (a.CreateAt < b.CreateAt) != desc
		}
		return (a.Id < b.Id) != desc
	})
}

// stamp fills what the server sets on a new object when the caller left
// it out: an id, and the create time (also the update time).
func (s *Server) stamp(id *string, createAt, updateAt *int64) {
	if *id == "" {
		*id = model.NewId()
	}
	if *createAt == 0 {
		*createAt = s.millis()
		*updateAt = *createAt
	}
}
