package mmfake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// userAgent is what Mattermost's outgoing integration requests carry.
const userAgent = "Mattermost-Bot/1.1"

// integrationTimeout bounds the helpers' own requests so a hung endpoint
// fails the test instead of hanging it.
const integrationTimeout = 30 * time.Second

// CommandFields are the form fields Mattermost posts to a custom slash
// command. Names follow slash-command-request.json.
type CommandFields struct {
	TeamID      string
	TeamDomain  string
	ChannelID   string
	ChannelName string
	UserID      string
	UserName    string
	// Command is the trigger with its slash, e.g. "/countersign".
	Command string
	// Text is everything after the trigger.
	Text        string
	TriggerID   string
	ResponseURL string
	// RootID is the thread the command was typed in. Mattermost 9.x does
	// not send it (see the fixture); newer servers do. Empty means "not
	// sent", so tests cover both.
	RootID string
	// UserMentions and ChannelMentions become user_mentions(_ids) and
	// channel_mentions(_ids), sent when the text mentions someone.
	UserMentions    model.UserMentionMap
	ChannelMentions model.ChannelMentionMap
}

// Form returns the form Mattermost sends, token included. url.Values
// encodes keys sorted, which is also the order in the captured raw body.
func (f CommandFields) Form(token string) url.Values {
	v := url.Values{}
	v.Set("token", token)
	v.Set("team_id", f.TeamID)
	v.Set("team_domain", f.TeamDomain)
	v.Set("channel_id", f.ChannelID)
	v.Set("channel_name", f.ChannelName)
	v.Set("user_id", f.UserID)
	v.Set("user_name", f.UserName)
	v.Set("command", f.Command)
	v.Set("text", f.Text)
	v.Set("trigger_id", f.TriggerID)
	v.Set("response_url", f.ResponseURL)
	if f.RootID != "" {
		v.Set("root_id", f.RootID)
	}
	for _, m := range []url.Values{f.UserMentions.ToURLValues(), f.ChannelMentions.ToURLValues()} {
		for k, vals := range m {
			v[k] = vals
		}
	}
	return v
}

// NewSlashCommandRequest builds the request Mattermost sends to a slash
// command's URL: form body, "Authorization: Token <token>", and the
// Accept, Content-Type and User-Agent headers of the capture. Use it with
// httptest.NewRecorder to call a handler without a network; SlashCommand
// sends it over HTTP.
func NewSlashCommandRequest(ctx context.Context, target, token string, f CommandFields) (*http.Request, error) {
	body := f.Form(token).Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("mmfake: slash command request: %w", err)
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Token "+token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// SlashCommand sends a slash-command request to target as Mattermost 9.x
// does (see slash-command-request.json). The caller closes the body.
func SlashCommand(target, token string, f CommandFields) (*http.Response, error) {
	req, err := NewSlashCommandRequest(context.Background(), target, token, f)
	if err != nil {
		return nil, err
	}
	return send(req)
}

// NewPostActionRequest builds the request Mattermost sends to an
// interactive button's integration URL: the JSON of req, Accept and
// Content-Type application/json, and no Authorization header (buttons
// carry no credential; the integration must check context itself).
func NewPostActionRequest(ctx context.Context, target string, req model.PostActionIntegrationRequest) (*http.Request, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("mmfake: post action body: %w", err)
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("mmfake: post action request: %w", err)
	}
	r.Header.Set("User-Agent", userAgent)
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Content-Type", "application/json")
	return r, nil
}

// PostAction sends a button click to target as Mattermost 9.x does (see
// post-action-request.json). The caller closes the body.
func PostAction(target string, req model.PostActionIntegrationRequest) (*http.Response, error) {
	r, err := NewPostActionRequest(context.Background(), target, req)
	if err != nil {
		return nil, err
	}
	return send(r)
}

// send performs an integration request with a bounded client of its own
// (no shared default client).
func send(req *http.Request) (*http.Response, error) {
	client := &http.Client{Timeout: integrationTimeout}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mmfake: send %s %s: %w", req.Method, req.URL.Path, err)
	}
	return resp, nil
}
