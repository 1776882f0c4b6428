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

// markdownSpecial are the characters Mattermost's Markdown gives meaning
// to; each is escaped with a backslash (CommonMark allows that for every
// ASCII punctuation character).
const markdownSpecial = "\\`*_{}[]()#+-.!|<>~&:=\"'$"

// Escape makes s safe to embed in a Mattermost message as plain text on
// one line: Markdown and HTML characters are backslash-escaped, line
// breaks become spaces, mentions (@channel, @alice) are broken with a zero
// width space so nobody is notified by a purpose, and the text is cut to
// max runes (0: no limit).
func Escape(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "�")
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
		case r < 128 && strings.ContainsRune(markdownSpecial, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 32 || r == 0x7f:
			// Other control characters carry nothing worth showing.
		default:
			b.WriteRune(r)
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

// paramsText renders canonical params JSON as "key=value" pairs.
func paramsText(params string) string {
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
		parts = append(parts, Escape(k, 64)+"\\="+Escape(v, 200))
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
	if p := paramsText(r.Params); p != "" {
		action += " · " + p
	}
	fmt.Fprintf(&b, "**Action:** %s\n", action)
	if r.Purpose != "" {
		fmt.Fprintf(&b, "**Purpose:** %s\n", Escape(r.Purpose, 500))
	}
	fmt.Fprintf(&b, "**Approvals:** %d of %d\n", r.Tally().Approved(), r.RequiredApprovals)
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
	fmt.Fprintf(&b, "%s **%s** %s %s at %s", mark, Escape(d.ApproverName, 64), verb, r.ID, d.CreatedAt.UTC().Format(time.RFC3339))
	stepUp := []string{}
	if d.ACR != "" {
		stepUp = append(stepUp, "acr "+Escape(d.ACR, 100))
	}
	if d.AMR != "" {
		stepUp = append(stepUp, "amr "+Escape(d.AMR, 100))
	}
	if len(stepUp) > 0 {
		fmt.Fprintf(&b, " (step-up: %s)", strings.Join(stepUp, ", "))
	}
	if d.Comment != "" {
		fmt.Fprintf(&b, "\n> %s", Escape(d.Comment, 500))
	}
	fmt.Fprintf(&b, "\nApprovals: %d of %d · %s", r.Tally().Approved(), r.RequiredApprovals, rn.RequestURL(r.ID))
	return b.String()
}

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
