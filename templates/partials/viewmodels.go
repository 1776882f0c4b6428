// Package partials holds the pieces the portal's pages share: state and
// provenance badges, request tables, the conversation snapshot, the tool
// chain timeline, the decision timeline and the decision forms.
//
// Like pages, partials take small typed view models defined here and never
// gorm models; handlers build them. Every value shown is text (templ escapes
// it), and no partial emits inline scripts or style attributes, because the
// Content-Security-Policy forbids them.
package partials

// Time is a moment as the portal shows it: absolute in UTC, with a hint
// relative to when the page was rendered.
type Time struct {
	// ISO is the RFC 3339 form for <time datetime>; empty means "no time".
	ISO string
	// UTC is the absolute form people read, e.g. "2026-11-27 08:14:05 UTC".
	UTC string
	// Relative is a hint such as "3 min ago" or "in 42 min".
	Relative string
}

// Requester says who asked: a person, or an agent and the human who
// sponsors it.
type Requester struct {
	// IsAgent is true for a non-human identity (a bot account).
	IsAgent bool
	Name    string
	ID      string
	// SponsorName and SponsorID name an agent's accountable human.
	SponsorName string
	SponsorID   string
}

// RequestRow is one line of a request list.
type RequestRow struct {
	ID  string
	URL string
	// Action is the catalogue action, shown in monospace.
	Action string
	// Params is a one-line summary of the parameters ("env=prod service=api").
	Params    string
	Purpose   string
	Requester Requester
	// Channel is the Mattermost channel name, without the "~".
	Channel string
	State   string
	Created Time
	// Expires is shown for pending requests only (zero otherwise).
	Expires Time
	// Expired is true when a pending request's time has run out.
	Expired bool
	// Title is what the row links: the purpose, else the action's
	// description, else the action.
	Title string
	// Line is where the request stands; Progress its approvals; Risks
	// what to notice before opening it.
	Line     StateLine
	Progress Progress
	Risks    []Risk
}

// DecisionRow is one line of the recent decisions list.
type DecisionRow struct {
	RequestID    string
	RequestURL   string
	Action       string
	Purpose      string
	RequestState string
	Approver     string
	Verdict      string
	Comment      string
	At           Time
}

// StateCount is a summary badge: how many requests are in one state, linking
// to the list filtered by it.
type StateCount struct {
	State string
	Count int64
	URL   string
}

// Filters is the state of a request filter form (a GET form, so the result
// URL can be shared).
type Filters struct {
	// Path is where the form submits, e.g. "/" or "/requests".
	Path      string
	Requester string
	Channel   string
	Action    string
	// Purpose matches words of the request's purpose.
	Purpose string
	// State is the selected state; used only when States is not empty.
	State string
	// States are the selectable states; empty hides the state field (the
	// dashboard's list is always pending).
	States []string
	// Active is true when any filter is set; the form then offers a reset.
	Active bool
}

// Pager links to the next (older) page and back to the newest. Paging is
// by keyset cursor, so there are no page numbers.
type Pager struct {
	// OlderURL is the next page; empty on the last page.
	OlderURL string
	// NewestURL is the first page; empty when already on it.
	NewestURL string
}

// Param is one action parameter.
type Param struct {
	Key string
	// Value is the text of a string value, or the JSON of any other value.
	Value string
	// JSON is true when Value is JSON (a number, list, object, boolean).
	JSON bool
}

// Post is one captured Mattermost post with its provenance.
type Post struct {
	// Anchor is the element id, e.g. "post-3".
	Anchor string
	PostID string
	// Author is the real author's account name, never an overridden
	// display name.
	Author   string
	AuthorID string
	// Kind is "human", "bot" or "webhook".
	Kind string
	// BotOwner names the owner of a bot author (name when known, else id).
	BotOwner string
	// ShownAs is the display name a webhook post claimed in chat, when it
	// differs from Author. It is shown only as "shown as".
	ShownAs string
	// Edited is true when Mattermost reported an edit; EditedAfterCapture
	// when that edit is later than the request's capture.
	Edited             bool
	EditedAfterCapture bool
	EditedAt           Time
	Deleted            bool
	// NotMember is true when the author was not in the channel at capture.
	NotMember bool
	// Command is true for the requester's own slash-command post: it is
	// posted like a webhook, but by the person who asked, under their own
	// name, so it is not badged as a webhook. Impersonates is true for a
	// webhook post shown in chat under someone else's name.
	Command      bool
	Impersonates bool
	// Reply is true for a post inside a thread.
	Reply     bool
	IsRoot    bool
	IsTrigger bool
	// Message is the post's text, shown as plain text.
	Message string
	// ClaimsApproval is true when the text reads like an approval; the
	// page then says plainly that it is not one.
	ClaimsApproval bool
	At             Time
	// Permalink opens the post in Mattermost; empty when unknown.
	Permalink string
}

// JSONBlock is pretty-printed JSON and whether it is long enough to fold.
type JSONBlock struct {
	Text   string
	Lines  int
	Size   string
	Folded bool
	// Summary is the value on one line, shortened: what a folded block
	// shows without opening it.
	Summary string
}

// ToolCall is one step of an agent's tool-invocation chain.
type ToolCall struct {
	// Anchor is the element id, e.g. "tool-2"; Index the 1-based position.
	Anchor string
	Index  int
	CallID string
	Tool   string
	// Status is "ok", "error" or "pending".
	Status string
	// ParentCallID and ParentAnchor point at the call this one followed.
	ParentCallID string
	ParentAnchor string
	Started      Time
	// Duration is e.g. "900 ms"; empty when the call has not ended.
	Duration string
	Input    JSONBlock
	// Output is empty when the agent sent only OutputDigest.
	Output       JSONBlock
	OutputDigest string
	// Observed is true for a call Countersign's MCP gateway saw itself;
	// false for one the agent reported. Approvers are told which.
	Observed bool
}

// Decision is one entry of a request's decision timeline.
type Decision struct {
	Approver   string
	ApproverID string
	Verdict    string
	At         Time
	Comment    string
	// Step-up evidence.
	AuthTime    Time
	ACR         string
	AMR         string
	IDTokenHash string
	// PasswordOnly marks a decision whose step-up rule accepted a
	// password alone; the page says so next to the evidence.
	PasswordOnly bool
	// Passkey is the decision's passkey signature; nil when none.
	Passkey *PasskeySignature
	// ContentHash is what the approver was shown; Counts is true when it
	// is the request's current hash.
	ContentHash string
	Counts      bool
	// ReceiptURL downloads the decision's audit receipt; empty when
	// receipts are off. ReceiptPending is true when no signed checkpoint
	// covers the decision yet (the download signs one first).
	ReceiptURL     string
	ReceiptPending bool
	// ReceiptPageURL is the page explaining the receipt.
	ReceiptPageURL string
}

// DecisionForm is what the Approve and Deny forms carry.
type DecisionForm struct {
	// Path is where both forms POST, e.g. "/requests/REQ-1/decision".
	Path string
	// CSRFField and CSRFToken are the hidden anti-forgery field.
	CSRFField string
	CSRFToken string
	// ContentHash binds the decision to what the page showed.
	ContentHash string
	// CommentMax is the longest comment accepted, in bytes.
	CommentMax int
	// StepUpNote says what deciding asks of the person's sign-in: until
	// when the current one counts, or that they will sign in again.
	StepUpNote string
	// Passkey offers signing the decision with a passkey.
	Passkey PasskeyOffer
}

// PasskeyOffer is the passkey part of the decision forms.
type PasskeyOffer struct {
	// Offered shows the "with passkey" buttons (the person has one).
	Offered bool
	// Required hides the plain buttons: the request's policy accepts only
	// passkey-signed decisions.
	Required bool
	// ChallengePath is where static/passkey.js asks for the statement.
	ChallengePath string
}

// StateLine is the one sentence saying where a request stands in its
// lifecycle, decided in one place (the handlers' stateLine) so no page
// words the same state two ways.
type StateLine struct {
	// Stage names the lifecycle stage for styling and tests: waiting,
	// timed-out, approved, auto-approved, running, grant-expired,
	// executed, failed, denied, cancelled, expired.
	Stage string
	// State is the request's stored state, for its badge.
	State string
	// Text is the sentence.
	Text string
	// Due is the deadline still running (the request's expiry while it
	// waits, the grant's while it waits for the executor); zero once
	// nothing is counting down. DueLabel says what it is.
	Due      Time
	DueLabel string
}

// Risk is one thing an approver should notice before the evidence: an
// impersonating webhook post, posts edited after capture, production, an
// agent requester.
type Risk struct {
	// Kind is impersonation, edited, production or agent.
	Kind string
	// Label is the short badge text; Text the sentence (also the badge's
	// hover title).
	Label string
	Text  string
}

// Progress is how far a request is from enough approvals.
type Progress struct {
	// Summary is e.g. "1 of 2 approvals".
	Summary            string
	Approved, Required int
	// Missing says who is still needed, e.g. "1 more from sre or
	// security"; empty when none is.
	Missing string
}

// PasskeySignature is a decision's passkey evidence as the request page
// shows it: the signed statement and the credential.
type PasskeySignature struct {
	CredentialID string
	Statement    string
}
