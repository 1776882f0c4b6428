package mattermost

// CommandCall is one use of the Countersign command, typed either as the
// /countersign slash command or as an @-mention of the bot in a post. Both
// reach the same parser, policy and replies.
type CommandCall struct {
	// UserID is the Mattermost account that typed it.
	UserID string
	// ChannelID is the channel it was typed in.
	ChannelID string
	// RootID is the thread it was typed in: the post's root_id for a
	// mention, the root_id field of newer servers' slash commands; empty
	// when Mattermost did not say (servers up to 10.x for slash commands)
	// or when the mention is itself a top-level post.
	RootID string
	// PostID is the mention's own post; empty for a slash command (which
	// makes no post).
	PostID string
	// Text is what follows the command word or the mention.
	Text string
}

// Mention reports whether the call came from a post mentioning the bot.
func (c CommandCall) Mention() bool { return c.PostID != "" }

// CommandReply is the answer to a CommandCall: shown to the caller alone
// for a slash command, posted in the thread for a mention.
type CommandReply struct {
	Text string
	// GotoLocation sends the caller's browser there (slash command only).
	GotoLocation string
	// RequestID is the request the call created or found, if any.
	RequestID string
}
