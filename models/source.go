package models

// Limits on what one request may carry. They keep one request from
// swamping the database or an approver's screen.
const (
	MaxPurposeLen   = 2000
	MaxParams       = 64
	MaxPosts        = 1000
	MaxToolCalls    = 500
	MaxMessageBytes = 16 << 10
	MaxToolIOBytes  = 256 << 10
)

// Source says where in Mattermost a request was born.
type Source struct {
	TeamID        string
	TeamName      string
	ChannelID     string
	ChannelName   string
	RootPostID    string
	TriggerPostID string
}
