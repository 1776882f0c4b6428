package models

// AuthorKind is the provenance class of a captured post, decided from the
// author's account (looked up, never from user-settable props).
type AuthorKind string

// The author kinds.
const (
	// AuthorHuman is a regular user account writing as itself.
	AuthorHuman AuthorKind = "human"
	// AuthorBot is a bot account.
	AuthorBot AuthorKind = "bot"
	// AuthorWebhook is a post made through a webhook or a slash command
	// reply; its displayed name may be overridden and proves nothing.
	AuthorWebhook AuthorKind = "webhook"
)

// Valid reports whether k is a known author kind.
func (k AuthorKind) Valid() bool { return k == AuthorHuman || k == AuthorBot || k == AuthorWebhook }

// ConversationPost is one Mattermost post as captured with a request. Times
// are Mattermost's milliseconds since the epoch. Hash covers the post's
// content fields (see contenthash.PostHash).
type ConversationPost struct {
	ID        int64 `gorm:"primaryKey"`
	RequestID string
	Position  int
	PostSnapshot
	DeleteAt int64
}

// PostSnapshot is what Countersign records of a Mattermost post: who wrote
// it (looked up, with how: as a person, a bot, a webhook) and what it said
// when read. Captured posts and later discussion share it.
type PostSnapshot struct {
	PostID     string
	RootID     string
	AuthorID   string
	AuthorName string
	AuthorKind AuthorKind
	// BotOwnerID is the owner of a bot author, looked up from the bot record.
	BotOwnerID string
	// BotOwnerName is that owner's username, for display (not hashed:
	// usernames can change, the id is what the content is bound to).
	BotOwnerName     string
	FromWebhook      bool
	OverrideUsername string
	// ChannelMember is false when the author was not a member of the channel
	// when the post was read.
	ChannelMember bool
	Message       string
	CreateAt      int64
	EditAt        int64
	Hash          string
}

// TableName pins the table name.
func (ConversationPost) TableName() string { return "conversation_posts" }
