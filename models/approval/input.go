package approval

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/contenthash"
)

var actionName = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)

// NewRequest is everything needed to open a request.
type NewRequest struct {
	Kind      models.Kind
	Action    string
	Params    map[string]any
	Purpose   string
	Requester models.Actor
	Source    models.Source
	// CaptureWarnings are what the capture could not learn (shown on the
	// request page; not part of the content).
	CaptureWarnings []string
	// Posts is the captured conversation in display order. ID, RequestID,
	// Position and Hash are filled in by Create.
	Posts []models.ConversationPost
	// ToolCalls is the agent's tool-invocation chain in order. Input and
	// Output must be JSON text (Output may be empty when OutputDigest is set).
	ToolCalls         []models.ToolCall
	TTL               time.Duration
	RequiredApprovals int
	PolicyRef         string
}

// validate checks the input and returns the canonical params text.
func (in *NewRequest) validate() (string, error) {
	if !in.Kind.Valid() {
		return "", models.Invalid("kind", "must be action or window")
	}
	if !actionName.MatchString(in.Action) {
		return "", models.Invalid("action", "must be 1–64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter")
	}
	if len(in.Params) > models.MaxParams {
		return "", models.Invalid("params", fmt.Sprintf("at most %d parameters", models.MaxParams))
	}
	if !utf8.ValidString(in.Purpose) || len(in.Purpose) > models.MaxPurposeLen {
		return "", models.Invalid("purpose", fmt.Sprintf("must be valid text of at most %d bytes", models.MaxPurposeLen))
	}
	if err := in.Requester.Validate("requester"); err != nil {
		return "", err
	}
	if in.Requester.Type == models.ActorSystem {
		return "", models.Invalid("requester.type", "requests come from humans or agents")
	}
	if in.TTL <= 0 {
		return "", models.Invalid("ttl", "must be positive")
	}
	if in.RequiredApprovals < 1 || in.RequiredApprovals > 10 {
		return "", models.Invalid("required_approvals", "must be between 1 and 10")
	}
	if len(in.Posts) > models.MaxPosts {
		return "", models.Invalid("posts", fmt.Sprintf("at most %d posts", models.MaxPosts))
	}
	for i := range in.Posts {
		p := &in.Posts[i]
		field := fmt.Sprintf("posts[%d]", i)
		if p.PostID == "" || p.AuthorID == "" {
			return "", models.Invalid(field, "needs a post id and an author id")
		}
		if !p.AuthorKind.Valid() {
			return "", models.Invalid(field+".author_kind", "must be human, bot or webhook")
		}
		if len(p.Message) > models.MaxMessageBytes || !utf8.ValidString(p.Message) {
			return "", models.Invalid(field+".message", fmt.Sprintf("must be valid text of at most %d bytes", models.MaxMessageBytes))
		}
	}
	if len(in.ToolCalls) > models.MaxToolCalls {
		return "", models.Invalid("tool_calls", fmt.Sprintf("at most %d calls", models.MaxToolCalls))
	}
	seen := map[string]bool{}
	for i := range in.ToolCalls {
		c := &in.ToolCalls[i]
		field := fmt.Sprintf("tool_calls[%d]", i)
		if c.CallID == "" || c.Tool == "" {
			return "", models.Invalid(field, "needs a call id and a tool name")
		}
		if seen[c.CallID] {
			return "", models.Invalid(field+".call_id", "is used twice")
		}
		if c.ParentID != "" && !seen[c.ParentID] {
			return "", models.Invalid(field+".parent_id", "must name an earlier call")
		}
		seen[c.CallID] = true
		if !c.Status.Valid() {
			return "", models.Invalid(field+".status", "must be ok, error or pending")
		}
		if len(c.Input) > models.MaxToolIOBytes || len(c.Output) > models.MaxToolIOBytes {
			return "", models.Invalid(field, fmt.Sprintf("input and output must be at most %d bytes (send a digest instead)", models.MaxToolIOBytes))
		}
		in, err := canonicalJSONField(c.Input, "{}")
		if err != nil {
			return "", models.Invalid(field+".input", "must be JSON")
		}
		c.Input = in
		if c.Output != "" {
			out, err := canonicalJSONField(c.Output, "")
			if err != nil {
				return "", models.Invalid(field+".output", "must be JSON")
			}
			c.Output = out
		}
		if !c.EndedAt.IsZero() && c.EndedAt.Before(c.StartedAt) {
			return "", models.Invalid(field+".ended_at", "is before started_at")
		}
	}
	params := in.Params
	if params == nil {
		params = map[string]any{}
	}
	canon, err := contenthash.Canonical(params)
	if err != nil {
		return "", models.Invalid("params", "must be JSON values")
	}
	return string(canon), nil
}

func canonicalJSONField(s, empty string) (string, error) {
	if s == "" {
		return empty, nil
	}
	if !json.Valid([]byte(s)) {
		return "", fmt.Errorf("not JSON")
	}
	b, err := contenthash.CanonicalizeJSON([]byte(s))
	return string(b), err
}
