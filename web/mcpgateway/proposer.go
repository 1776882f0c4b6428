package mcpgateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/mcpgate"
	"github.com/countersign/countersign/web/mattermost"
	"github.com/countersign/countersign/web/mattermost/notify"
)

// Chat is what ChatProposer needs of Mattermost (*mattermost.Client).
type Chat interface {
	BotUserID(ctx context.Context) (string, error)
	GetPost(ctx context.Context, postID string) (*model.Post, error)
	CreatePost(ctx context.Context, post *model.Post) (*model.Post, error)
	UpdatePost(ctx context.Context, postID, message string, props model.StringInterface) (*model.Post, error)
	Capture(ctx context.Context, req mattermost.CaptureRequest) (*mattermost.Capture, error)
}

// ChatProposer posts the proposal of a gated call in the configured
// channel (or under the thread the agent names, which must be in that
// channel) and captures the conversation as for any request. Countersign's
// own posts are left out of what is approved, as everywhere.
type ChatProposer struct {
	Chat      Chat
	ChannelID string
	// Log, when not nil, is told when a superseded proposal could not be
	// marked.
	Log *slog.Logger
}

// Propose implements mcpgate.Proposer.
func (p *ChatProposer) Propose(ctx context.Context, pr mcpgate.Proposal) (*mcpgate.Conversation, error) {
	root := ""
	if pr.Thread != "" {
		post, err := p.Chat.GetPost(ctx, pr.Thread)
		if err != nil {
			return nil, fmt.Errorf("mcpgateway: the thread the agent named: %w", err)
		}
		if post.ChannelId != p.ChannelID {
			return nil, fmt.Errorf("mcpgateway: the thread the agent named is not in the gateway's channel")
		}
		root = post.Id
		if post.RootId != "" {
			root = post.RootId
		}
	}
	text := proposalText(pr)
	created, err := p.Chat.CreatePost(ctx, &model.Post{ChannelId: p.ChannelID, RootId: root, Message: text})
	if err != nil {
		return nil, fmt.Errorf("mcpgateway: post the proposal: %w", err)
	}
	bot, err := p.Chat.BotUserID(ctx)
	if err != nil {
		return nil, fmt.Errorf("mcpgateway: bot user: %w", err)
	}
	capt, err := p.Chat.Capture(ctx, mattermost.CaptureRequest{PostRef: created.Id, ChannelID: p.ChannelID, ExcludeUserIDs: []string{bot}})
	if err != nil {
		return nil, fmt.Errorf("mcpgateway: capture the conversation: %w", err)
	}
	return &mcpgate.Conversation{Source: capt.Source, Posts: capt.Posts, Warnings: capt.Warnings, ProposalPostID: created.Id, ProposalText: text}, nil
}

// Superseded implements mcpgate.Superseder: the proposal of a call that
// joined the request an identical call opened at the same moment is
// edited to say which request carries the call, so it is not left looking
// like a request of its own (in a thread, a reply could not say which of
// the proposals it means).
func (p *ChatProposer) Superseded(ctx context.Context, conv *mcpgate.Conversation, req *models.Request) error {
	if conv.ProposalPostID == "" {
		return nil
	}
	msg := conv.ProposalText + "\n\n" + supersededText(req.ID)
	if _, err := p.Chat.UpdatePost(ctx, conv.ProposalPostID, msg, nil); err != nil {
		if p.Log != nil {
			p.Log.Warn("mcp gateway: could not mark a superseded proposal", "post", conv.ProposalPostID, "request", req.ID, "err", err)
		}
		return fmt.Errorf("mcpgateway: mark the superseded proposal: %w", err)
	}
	return nil
}

// supersededText is what a superseded proposal gains.
func supersededText(requestID string) string {
	return fmt.Sprintf("**Superseded:** the same call was made again at the same moment; request %s carries it, and this proposal opens nothing of its own.", notify.Escape(requestID, 64))
}

// proposalText says what the agent asks for, in the words of a chat
// message (the request's own message follows once it is stored). What
// comes from the agent is escaped as the request message escapes it
// (notify.Escape, notify.ParamsText), so a purpose cannot mention
// @channel, link, or pass for someone else's words. It is posted before
// the policy decides, so it promises no outcome.
func proposalText(pr mcpgate.Proposal) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Agent **%s** (sponsor %s) called an MCP tool that is an action in Countersign's catalogue: %s",
		notify.Escape(pr.Agent.Display, 64), notify.Escape(pr.Agent.SponsorName, 64), notify.Escape(pr.Action, 64))
	if params, err := json.Marshal(pr.Params); err == nil {
		if p := notify.ParamsText(string(params)); p != "" {
			b.WriteString(" · " + p)
		}
	}
	if pr.Purpose != "" {
		b.WriteString(" — " + notify.Escape(pr.Purpose, 500))
	}
	b.WriteString(". Countersign's policy decides it; if it needs approvers, the call waits for them.")
	return b.String()
}
