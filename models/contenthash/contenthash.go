// Package contenthash computes the hash that binds a decision to exactly
// what the approver was shown: the action and its parameters, the purpose,
// the conversation snapshot and the tool-invocation chain.
//
// The encoding is canonical JSON as defined by RFC 8785 (JCS): object keys
// sorted, no insignificant whitespace, numbers in their shortest ECMAScript
// form. The same content hashes the same on every backend and machine.
package contenthash

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gowebpki/jcs"

	"github.com/countersign/countersign/models"
)

// Canonical returns the RFC 8785 canonical JSON encoding of v.
func Canonical(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("contenthash: encode: %w", err)
	}
	return CanonicalizeJSON(raw)
}

// CanonicalizeJSON re-encodes JSON text canonically. It refuses text that is
// not exactly one JSON value.
func CanonicalizeJSON(raw []byte) ([]byte, error) {
	if !json.Valid(raw) {
		return nil, fmt.Errorf("contenthash: not valid JSON")
	}
	out, err := jcs.Transform(bytes.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("contenthash: canonicalize: %w", err)
	}
	return out, nil
}

// Sum returns the lowercase hex SHA-256 of b.
func Sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Post is the hashed view of a captured post. Every field a reader relies on
// to judge provenance is included, so re-labelling a post changes its hash.
type Post struct {
	PostID           string `json:"post_id"`
	RootID           string `json:"root_id"`
	AuthorID         string `json:"author_id"`
	AuthorName       string `json:"author_name"`
	AuthorKind       string `json:"author_kind"`
	BotOwnerID       string `json:"bot_owner_id"`
	FromWebhook      bool   `json:"from_webhook"`
	OverrideUsername string `json:"override_username"`
	ChannelMember    bool   `json:"channel_member"`
	Message          string `json:"message"`
	CreateAt         int64  `json:"create_at"`
	EditAt           int64  `json:"edit_at"`
	DeleteAt         int64  `json:"delete_at"`
}

// ToolCall is the hashed view of one tool invocation. Input and Output are
// JSON values embedded as such, so their canonical form is hashed.
type ToolCall struct {
	CallID   string          `json:"call_id"`
	ParentID string          `json:"parent_id"`
	Tool     string          `json:"tool"`
	Input    json.RawMessage `json:"input"`
	// ObservedBy is "countersign" for a call Countersign's MCP gateway saw
	// itself, and absent for a call the agent reported: approvers are
	// bound to which is which.
	ObservedBy   string          `json:"observed_by,omitempty"`
	Output       json.RawMessage `json:"output,omitempty"`
	OutputDigest string          `json:"output_digest,omitempty"`
	Status       string          `json:"status"`
	StartedAt    string          `json:"started_at"`
	EndedAt      string          `json:"ended_at"`
}

// Content is everything an approval is bound to.
type Content struct {
	Kind         string          `json:"kind"`
	Action       string          `json:"action"`
	Params       json.RawMessage `json:"params"`
	Purpose      string          `json:"purpose"`
	Conversation []Post          `json:"conversation"`
	ToolChain    []ToolCall      `json:"tool_chain"`
}

// TimeString is the one text form of times inside hashed content: UTC,
// microsecond precision, fixed width.
func TimeString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

// FromPost converts a stored post to its hashed view.
func FromPost(p *models.ConversationPost) Post {
	return Post{
		PostID: p.PostID, RootID: p.RootID, AuthorID: p.AuthorID, AuthorName: p.AuthorName,
		AuthorKind: string(p.AuthorKind), BotOwnerID: p.BotOwnerID, FromWebhook: p.FromWebhook,
		OverrideUsername: p.OverrideUsername, ChannelMember: p.ChannelMember, Message: p.Message,
		CreateAt: p.CreateAt, EditAt: p.EditAt, DeleteAt: p.DeleteAt,
	}
}

// FromToolCall converts a stored tool call to its hashed view. Input and
// Output must already be canonical JSON text (or Output empty).
func FromToolCall(c *models.ToolCall) ToolCall {
	tc := ToolCall{
		CallID: c.CallID, ParentID: c.ParentID, Tool: c.Tool, Input: json.RawMessage(c.Input),
		OutputDigest: c.OutputDigest, Status: string(c.Status),
		StartedAt: TimeString(c.StartedAt), EndedAt: TimeString(c.EndedAt), ObservedBy: c.ObservedBy,
	}
	if c.Output != "" {
		tc.Output = json.RawMessage(c.Output)
	}
	return tc
}

// errNotExact marks content the direct encoder leaves to Canonical.
var errNotExact = errors.New("contenthash: integer beyond exact range")

// PostHash returns the hex SHA-256 of one post's canonical form.
func PostHash(p *models.ConversationPost) (string, error) {
	v := FromPost(p)
	e := encoder{buf: make([]byte, 0, 256+len(v.Message))}
	e.post(&v)
	if e.err != nil {
		b, err := Canonical(v)
		if err != nil {
			return "", err
		}
		return Sum(b), nil
	}
	return Sum(e.buf), nil
}

// OfRequest builds the content of a request from its stored parts. Posts
// and tool calls must be in position order.
func OfRequest(r *models.Request, posts []models.ConversationPost, calls []models.ToolCall) Content {
	c := Content{
		Kind: string(r.Kind), Action: r.Action, Params: json.RawMessage(r.Params), Purpose: r.Purpose,
		Conversation: make([]Post, 0, len(posts)), ToolChain: make([]ToolCall, 0, len(calls)),
	}
	for i := range posts {
		c.Conversation = append(c.Conversation, FromPost(&posts[i]))
	}
	for i := range calls {
		c.ToolChain = append(c.ToolChain, FromToolCall(&calls[i]))
	}
	return c
}

// Hash returns the hex SHA-256 of the content's canonical encoding.
func Hash(c Content) (string, error) {
	b, err := encodeContent(&c)
	if err != nil {
		return "", err
	}
	return Sum(b), nil
}

// encodeContent returns the canonical encoding of c: directly (see
// encode.go), or through Canonical for what the direct path does not take.
func encodeContent(c *Content) ([]byte, error) {
	e := encoder{buf: make([]byte, 0, 4096)}
	e.content(c)
	if e.err == nil {
		return e.buf, nil
	}
	if errors.Is(e.err, errNotExact) {
		return Canonical(c)
	}
	return nil, e.err
}
