// Package outbox is the queue of chat work that must survive Mattermost
// outages and process restarts. Rows are written by a Hook inside the
// transaction of the change that caused them (so a change and its
// notifications commit or roll back together), and drained after commit by
// workers that claim rows with a lease (compare-and-swap on the lease
// owner and expiry, safe with several replicas), deliver them, and mark
// them done, or schedule a retry with backoff, or fail them with a reason.
//
// Delivery is ordered per lane: a request's own thread traffic is one lane,
// the DMs about a request to one person another. A row becomes due only
// when no earlier row of its lane is still pending.
package outbox

import (
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// Kind says what a row asks for.
type Kind string

// The kinds of chat work.
const (
	// KindRequestPost makes the request's one chat message show the
	// request's current state: created on first use, updated in place
	// after. Rendered from the database when sent, so duplicates are
	// harmless.
	KindRequestPost Kind = "request_post"
	// KindDecisionReply replies in the request's thread with one decision
	// (payload: decision id).
	KindDecisionReply Kind = "decision_reply"
	// KindNotifyApprovers expands into one KindApproverDM per eligible
	// approver, looked up when it is handled.
	KindNotifyApprovers Kind = "notify_approvers"
	// KindApproverDM tells one approver (recipient: a username) that a
	// request waits for them.
	KindApproverDM Kind = "approver_dm"
	// KindOutcomeDM tells the requester (recipient: a user id) how their
	// request ended (payload: state, actor, reason).
	KindOutcomeDM Kind = "outcome_dm"
)

// ShowsDecisions reports whether handling a row of kind k reads the
// request's decisions: the request message (approvals so far), decision
// replies, thread notes (approvals at expiry), and reminders and
// escalations (who has decided). Approver notifications and their DMs and
// the requester's outcome DM do not, so their request is loaded without
// decisions (web/mattermost/notify checks that their texts do not change
// with decisions).
func (k Kind) ShowsDecisions() bool {
	switch k {
	case KindNotifyApprovers, KindApproverDM, KindOutcomeDM, KindVoidedDM:
		return false
	}
	return true
}

// State is where a row stands.
type State string

// The row states.
const (
	StatePending State = "pending"
	StateDone    State = "done"
	StateFailed  State = "failed"
)

// Message is one row of outbox_messages.
type Message struct {
	ID        int64 `gorm:"primaryKey"`
	RequestID string
	Lane      string
	Kind      Kind
	Recipient string
	// Payload is JSON (see Payload).
	Payload string
	// IdemKey is a Mattermost-style id generated with the row: the
	// pending_post_id of the post it creates and the PropKey prop on it.
	IdemKey       string
	State         State
	Attempts      int
	NextAttemptUS int64 `gorm:"column:next_attempt_us"`
	LeaseOwner    string
	LeaseUntilUS  int64 `gorm:"column:lease_until_us"`
	LastError     string
	// PostID is the post the row created, once done.
	PostID    string
	CreatedAt time.Time
	UpdatedAt time.Time

	// Supersedes lists, for a claimed KindRequestPost row, the later
	// pending KindRequestPost rows of its request seen when it was claimed:
	// the message is rendered from the database at send time, after their
	// changes committed, so sending this row shows their state too and Done
	// marks them done with it. Not stored.
	Supersedes []int64 `gorm:"-"`
}

// MayHaveBeenSent reports whether an earlier attempt of the row may have
// reached Mattermost, so a create must first look for the post it may
// have made: the row was claimed before (Attempts > 1: a retry, or a
// lease that ran out after a crash), or it was given back after a failure
// (LastError set: Hold returns the attempt of an outage but keeps its
// error, and a create whose answer was lost may still have been stored).
func (m *Message) MayHaveBeenSent() bool { return m.Attempts > 1 || m.LastError != "" }

// TableName pins the table name.
func (Message) TableName() string { return "outbox_messages" }

// Payload is the structured part of a row; fields unused by a kind stay
// empty.
type Payload struct {
	DecisionID int64  `json:"decision_id,omitempty"`
	State      string `json:"state,omitempty"`
	Actor      string `json:"actor,omitempty"`
	Reason     string `json:"reason,omitempty"`
	// Note, From and Roles describe a thread note or a follow-up (see
	// followup.go).
	Note  Note     `json:"note,omitempty"`
	From  string   `json:"from,omitempty"`
	Roles []string `json:"roles,omitempty"`
	// Voided names the approvers whose approvals a content change voided
	// (@username where known, else their display name).
	Voided []string `json:"voided,omitempty"`
	// Text is what a comment said (NoteComment).
	Text string `json:"text,omitempty"`
}

// ChatPost is the one message Countersign keeps per request in chat.
// PostID is empty until the post exists; IdemKey makes its creation
// idempotent across retries and crashes.
type ChatPost struct {
	RequestID string `gorm:"primaryKey"`
	PostID    string
	ChannelID string
	RootID    string
	IdemKey   string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TableName pins the table name.
func (ChatPost) TableName() string { return "request_chat_posts" }

// PropKey is the post prop carrying a row's IdemKey, so a create whose
// answer was lost can be found again instead of being repeated.
const PropKey = "countersign_key"

// PropRequest is the post prop naming the request a Countersign post is
// about.
const PropRequest = "countersign_request"

// newKey returns a fresh 26-character id, valid as a pending_post_id.
func newKey() string { return model.NewId() }

// us converts a time to microseconds since the epoch.
func us(t time.Time) int64 { return t.UnixMicro() }
