package models

import "time"

// PostRevision records that a captured post read differently when the
// conversation was read again at decision time: its text and hash as
// approvers had seen them, and as the post reads now (Deleted when it is
// gone). OldContentHash and NewContentHash are the request's content hashes
// before and after the change was applied.
type PostRevision struct {
	ID             int64 `gorm:"primaryKey"`
	RequestID      string
	PostID         string
	OldMessage     string
	OldHash        string
	NewMessage     string
	NewHash        string
	Deleted        bool
	OldContentHash string
	NewContentHash string
	DetectedAt     time.Time
}

// TableName pins the table name.
func (PostRevision) TableName() string { return "post_revisions" }

// LaterPost is a post written in a request's conversation after it was
// captured. It is shown as later discussion, apart from the approved
// content, and is not part of the content hash: what people said after
// the request cannot change what was asked.
type LaterPost struct {
	ID        int64 `gorm:"primaryKey"`
	RequestID string
	PostSnapshot
	RecordedAt time.Time
}

// TableName pins the table name.
func (LaterPost) TableName() string { return "later_posts" }

// PostChange is a captured post as it reads now, found when the
// conversation was read again.
type PostChange struct {
	PostID string
	// Deleted is true when the post is gone; the other fields are then
	// ignored.
	Deleted          bool
	Message          string
	EditAt           int64
	FromWebhook      bool
	OverrideUsername string
}

// Reread is what reading a request's conversation again found: captured
// posts that were edited or deleted since, and posts written after the
// capture (later discussion, outside the approved content).
type Reread struct {
	Changed []PostChange
	Later   []ConversationPost
}
