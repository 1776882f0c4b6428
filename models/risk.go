package models

import (
	"encoding/json"
	"strings"
)

// Risks are what an approver should notice before reading the evidence:
// the things that make a request look safer or more agreed than it is.
// They are decided here once so the request page, its dashboard row and
// any other view flag the same things.
type Risks struct {
	// Impersonations counts captured webhook posts whose chat name
	// (override_username) is not their author's: the name shown in
	// Mattermost is someone else's.
	Impersonations int
	// Edited counts captured posts that were edited or deleted after the
	// capture (the text approvers read is not what chat shows now).
	Edited int
	// Production is the value of an env or environment parameter that
	// names production ("prod", "production"…); empty otherwise.
	Production string
	// Agent is true when an agent, not a person, asked.
	Agent bool
}

// Any reports whether there is anything to flag.
func (k Risks) Any() bool {
	return k.Impersonations > 0 || k.Edited > 0 || k.Production != "" || k.Agent
}

// Impersonates reports whether p is shown in chat under a name that is not
// its author's: a webhook (or a slash-command reply) whose sender chose
// another person's name. A command post under its own author's name is
// not one.
func (p *PostSnapshot) Impersonates() bool {
	return p.AuthorKind == AuthorWebhook && p.OverrideUsername != "" && !SameUsername(p.OverrideUsername, p.AuthorName)
}

// EditedAfter reports whether p was edited or deleted after captured
// (Mattermost milliseconds).
func (p *ConversationPost) EditedAfter(captured int64) bool {
	return p.EditAt > captured || p.DeleteAt > 0
}

// Risks adds up r's flags. r.Posts must be loaded (at least the author
// kind, names, edit and delete times).
func (r *Request) Risks() Risks {
	k := Risks{Agent: r.RequesterType == ActorAgent, Production: productionParam(r.Params)}
	captured := r.CreatedAt.UnixMilli()
	for i := range r.Posts {
		p := &r.Posts[i]
		if p.Impersonates() {
			k.Impersonations++
		}
		if p.EditedAfter(captured) {
			k.Edited++
		}
	}
	return k
}

// productionParam returns the env parameter's value when it names
// production. Params is canonical JSON; anything else names nothing.
func productionParam(params string) string {
	if !strings.Contains(params, "prod") && !strings.Contains(strings.ToLower(params), "prod") {
		return "" // the common case, without decoding
	}
	var m map[string]any
	if json.Unmarshal([]byte(params), &m) != nil {
		return ""
	}
	for _, key := range []string{"env", "environment"} {
		if s, ok := m[key].(string); ok && strings.HasPrefix(strings.ToLower(s), "prod") {
			return key + "=" + s
		}
	}
	return ""
}
