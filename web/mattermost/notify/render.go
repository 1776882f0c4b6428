// Package notify sends Countersign's messages back into Mattermost: it
// drains the outbox (models/outbox) after commit, renders every message
// from the current state in the database, handles the request message's
// "Cancel request" button, and says who the eligible approvers are.
package notify

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/outbox"
)

// Renderer turns request state into Mattermost message text. Everything
// that comes from people (purposes, names, parameters, comments) goes
// through Escape, so Markdown, HTML and mentions in it show as text.
type Renderer struct {
	// PublicURL is the portal's address; links are {PublicURL}/requests/{id}.
	PublicURL string
}

// RequestURL is the portal page of request id.
func (rn Renderer) RequestURL(id string) string {
	return strings.TrimRight(rn.PublicURL, "/") + "/requests/" + id
}

// StateEmoji is the marker of a state in chat: ⏳ pending, ✅ approved or
// executed, ❌ denied, failed or cancelled, ⌛ expired.
func StateEmoji(s models.State) string {
	switch s {
	case models.StatePending:
		return "⏳"
	case models.StateApproved, models.StateExecuted:
		return "✅"
	case models.StateExpired:
		return "⌛"
	default:
		return "❌"
	}
}

// markdownEscapes are the characters Mattermost's Markdown renderer
// unescapes after a backslash (its fork of marked): only these are
// escaped. A backslash before any other character (=, :, <, …) is shown
// as it is, so escaping those would put stray backslashes in messages.
const markdownEscapes = "\\`*{}[]()#+-.!_>~|"

// Escape makes s safe to embed in a Mattermost message as plain text on
// one line: the characters the renderer treats as Markdown are
// backslash-escaped (and nothing else), line breaks become spaces,
// mentions (@channel, @alice) are broken with a zero width space so nobody
// is notified by a purpose, and the text is cut to max runes (0: no limit).
func Escape(s string, max int) string {
	return clean(s, max, func(b *strings.Builder, r rune) {
		if r < 128 && strings.ContainsRune(markdownEscapes, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	})
}

// Code puts s in a code span: shown exactly as written (no Markdown, no
// emoji, no links), for values such as parameters and acr values. The
// fence is one backtick longer than the longest run of backticks in s,
// with a space inside when s starts or ends with one. Line breaks become
// spaces, mentions are broken, and s is cut to max runes.
func Code(s string, limit int) string {
	text := clean(s, limit, func(b *strings.Builder, r rune) { b.WriteRune(r) })
	longest, run := 0, 0
	for _, r := range text {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(text, "`") || strings.HasSuffix(text, "`") || text == "" {
		text = " " + text + " "
	}
	return fence + text + fence
}

// clean walks s as one line of message text: invalid UTF-8 replaced,
// line breaks as spaces, mentions broken, control characters dropped, cut
// to max runes; write emits every other rune.
func clean(s string, max int, write func(*strings.Builder, rune)) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\ufffd")
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		if max > 0 && n >= max {
			b.WriteString("…")
			break
		}
		n++
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case r == '@':
			b.WriteString("@\u200b")
		case r < 32 || r == 0x7f:
			// Other control characters carry nothing worth showing.
		default:
			write(&b, r)
		}
	}
	return b.String()
}

// requesterText names the requester, and an agent's sponsor.
func requesterText(r *models.Request) string {
	if r.RequesterType == models.ActorAgent {
		return fmt.Sprintf("agent %s (sponsor %s)", Escape(r.RequesterName, 64), Escape(r.SponsorName, 64))
	}
	return Escape(r.RequesterName, 64)
}

// ParamsText renders canonical params JSON as "key=value" pairs, each in
// a code span (shown as written: no Markdown, mentions or links).
func ParamsText(params string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(params), &m); err != nil || len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := string(m[k])
		var s string
		if json.Unmarshal(m[k], &s) == nil {
			v = s
		}
		parts = append(parts, Code(k+"="+v, 264))
	}
	return strings.Join(parts, ", ")
}

// RequestText is the request message: state, id, requester, action,
// parameters, purpose, approvals so far and the portal link.
func (rn Renderer) RequestText(r *models.Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s **%s** · Countersign request %s\n", StateEmoji(r.State), strings.ToUpper(string(r.State)), r.ID)
	fmt.Fprintf(&b, "**Requester:** %s\n", requesterText(r))
	action := Escape(r.Action, 64)
	if p := ParamsText(r.Params); p != "" {
		action += " · " + p
	}
	fmt.Fprintf(&b, "**Action:** %s\n", action)
	if r.Purpose != "" {
		fmt.Fprintf(&b, "**Purpose:** %s\n", Escape(r.Purpose, 500))
	}
	fmt.Fprintf(&b, "**Approvals:** %s\n", approvalsText(r))
	if r.State == models.StatePending {
		fmt.Fprintf(&b, "Review it and decide in the portal — chat messages never approve anything: %s", rn.RequestURL(r.ID))
	} else {
		fmt.Fprintf(&b, "Details: %s", rn.RequestURL(r.ID))
	}
	return b.String()
}

// DecisionReply is the thread reply for one decision: who, what, when,
// and the step-up evidence (acr, amr) behind it.
func (rn Renderer) DecisionReply(r *models.Request, d *models.Decision) string {
	mark, verb := "✅", "approved"
	if d.Verdict == models.VerdictDeny {
		mark, verb = "❌", "denied"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s **%s** %s %s at %s", mark, deciderText(d), verb, r.ID, d.CreatedAt.UTC().Format(time.RFC3339))
	stepUp := []string{}
	if d.ACR != "" {
		stepUp = append(stepUp, "acr "+Code(d.ACR, 100))
	}
	if d.AMR != "" {
		stepUp = append(stepUp, "amr "+Code(d.AMR, 100))
	}
	if len(stepUp) > 0 {
		fmt.Fprintf(&b, " (step-up: %s)", strings.Join(stepUp, ", "))
	}
	if d.Comment != "" {
		fmt.Fprintf(&b, "\n> %s", Escape(d.Comment, 500))
	}
	fmt.Fprintf(&b, "\nApprovals: %s · %s", approvalsText(r), rn.RequestURL(r.ID))
	return b.String()
}

// approvalsText is how far a request's approvals have come, in words that
// match what happened: approvals of the current content out of those
// needed, the approvals an edit voided, or that the policy approved it
// without any.
func approvalsText(r *models.Request) string {
	if r.ApprovedByPolicy() && r.Tally().Approved() == 0 {
		return "none needed — approved by policy"
	}
	text := fmt.Sprintf("%d of %d", r.Tally().Approved(), r.RequiredApprovals)
	if voided := r.Voided(); len(voided) > 0 {
		names := make([]string, len(voided))
		for i := range voided {
			names[i] = deciderText(&voided[i])
		}
		text += fmt.Sprintf(" (%s approved earlier content, changed since: no longer counted)", strings.Join(names, ", "))
	}
	return text
}

// deciderText names who decided by their chat username when the portal
// knew it (what people call each other in Mattermost), with the mention
// broken so the decider is not notified of their own decision; by their
// display name otherwise.
func deciderText(d *models.Decision) string {
	if d.ApproverUsername != "" {
		return mentionText(d.ApproverUsername)
	}
	return Escape(d.ApproverName, 64)
}

// mentionText names a chat user by @username with the mention broken (a
// zero-width space after the @), so naming them does not notify them.
func mentionText(username string) string { return "@\u200b" + Escape(username, 64) }

// ApproverDM asks one approver to review a request.
func (rn Renderer) ApproverDM(r *models.Request) string {
	return fmt.Sprintf("⏳ Request %s by %s waits for approval: %s\n**Purpose:** %s\nReview it and decide in the portal: %s",
		r.ID, requesterText(r), Escape(r.Action, 64), Escape(r.Purpose, 300), rn.RequestURL(r.ID))
}

// OutcomeDM tells the requester how the request ended.
func (rn Renderer) OutcomeDM(r *models.Request, p outbox.Payload) string {
	st := models.State(p.State)
	msg := fmt.Sprintf("%s Your request %s (%s) is now **%s**", StateEmoji(st), r.ID, Escape(r.Action, 64), Escape(p.State, 20))
	if p.Reason != "" {
		msg += ": " + Escape(p.Reason, 200)
	}
	return msg + "\n" + rn.RequestURL(r.ID)
}

// CancelActionID is the id of the request message's cancel button
// (Mattermost wants letters and digits only).
const CancelActionID = "cancelrequest"

// RequestProps are the props of the request message: the keys that mark
// it as Countersign's, and while the request is pending a "Cancel request"
// button whose context carries a signed token bound to this post.
func RequestProps(r *models.Request, cp *outbox.ChatPost, signer *Signer, actionURL string) model.StringInterface {
	props := model.StringInterface{outbox.PropKey: cp.IdemKey, outbox.PropRequest: r.ID}
	if r.State != models.StatePending || signer == nil || actionURL == "" || cp.PostID == "" {
		return props
	}
	props[model.PostPropsAttachments] = []*model.MessageAttachment{{
		Fallback: "Cancel request " + r.ID,
		Actions: []*model.PostAction{{
			Id: CancelActionID, Name: "Cancel request", Type: model.PostActionTypeButton, Style: "danger",
			Integration: &model.PostActionIntegration{
				URL:     actionURL,
				Context: signer.Context(r.ID, ActionCancel, cp.PostID, r.ExpiresAt),
			},
		}},
	}}
	return props
}
