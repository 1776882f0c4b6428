package models

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
	"time"
)

// Request is one ask for an operational action, with where it came from and
// where it stands. Params holds canonical JSON (see package contenthash).
type Request struct {
	ID     string `gorm:"primaryKey"`
	Kind   Kind
	Action string
	// Params is the action's parameters as canonical JSON object text.
	Params  string
	Purpose string

	RequesterType ActorType
	RequesterID   string
	RequesterName string
	// SponsorID and SponsorName name the accountable human of an agent.
	SponsorID   string
	SponsorName string

	TeamID        string
	TeamName      string
	ChannelID     string
	ChannelName   string
	RootPostID    string
	TriggerPostID string

	// ContentHash binds decisions to exactly what approvers were shown.
	ContentHash string
	State       State
	// Version increases with every change; updates compare-and-swap on it.
	Version   int64
	PolicyRef string
	// RequiredApprovals is how many distinct approvers must approve.
	RequiredApprovals int
	// ChatQuiet marks a request that says nothing in chat, whatever
	// happens to it (the demo's seeded requests).
	ChatQuiet bool
	// CaptureWarnings are what the capture of its conversation could not
	// learn (a bot owner the bot may not read…), shown on its page.
	CaptureWarnings Lines
	// ApprovalRules are what the matching policy rule decided (see
	// request_policy.go).
	ApprovalRules `gorm:"embedded"`

	CreatedAt time.Time
	UpdatedAt time.Time
	ExpiresAt time.Time

	Posts     []ConversationPost `gorm:"foreignKey:RequestID"`
	ToolCalls []ToolCall         `gorm:"foreignKey:RequestID"`
	Decisions []Decision         `gorm:"foreignKey:RequestID"`
}

// TableName pins the table name so it never depends on gorm's inflection.
func (Request) TableName() string { return "requests" }

// Requester returns the requester as an Actor.
func (r *Request) Requester() Actor {
	return Actor{Type: r.RequesterType, ID: r.RequesterID, Display: r.RequesterName, SponsorID: r.SponsorID, SponsorName: r.SponsorName}
}

// RequestedBy reports whether a is this request's requester: the same kind
// of identity with the same id. Agents may see, redeem and report only the
// requests they made themselves.
func (r *Request) RequestedBy(a Actor) bool {
	return a.ID != "" && a.Type == r.RequesterType && a.ID == r.RequesterID
}

// MadeBy reports whether the person known by id (a chat or IdP id) or by
// chat username is r's requester. It and SponsoredBy are the one
// definition of whom a request belongs to: who may see it without a role,
// who may cancel it, who must not approve it, who is not asked to.
func (r *Request) MadeBy(id, username string) bool {
	return (id != "" && id == r.RequesterID) || SameUsername(username, r.RequesterName)
}

// SponsoredBy reports whether the person known by id or chat username is
// the accountable human of r's agent (false for a person's request).
func (r *Request) SponsoredBy(id, username string) bool {
	return r.RequesterType == ActorAgent && ((id != "" && id == r.SponsorID) || SameUsername(username, r.SponsorName))
}

// SameUsername compares chat usernames case-insensitively, ignoring a
// leading @; empty names match nothing.
func SameUsername(a, b string) bool {
	a, b = strings.TrimPrefix(strings.TrimSpace(a), "@"), strings.TrimPrefix(strings.TrimSpace(b), "@")
	return a != "" && strings.EqualFold(a, b)
}

var idEncoding = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// NewRequestID returns a short, unambiguous id that people can type in chat,
// e.g. "REQ-7KM3QX9A2D". 50 random bits; the primary key catches the
// vanishingly rare collision.
func NewRequestID() string {
	var b [7]byte
	_, _ = rand.Read(b[:])
	return "REQ-" + idEncoding.EncodeToString(b[:])[:10]
}

// NormalizeRequestID accepts ids as people type them (lower case, without
// the prefix) and returns the canonical form.
func NormalizeRequestID(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s != "" && !strings.HasPrefix(s, "REQ-") {
		s = "REQ-" + s
	}
	return s
}
