package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/demodata"
	"github.com/countersign/countersign/web/session"
)

// Post ids of richRequest, to find each post on the page.
const (
	pRoot     = "root0000000000000000000000"
	pBot      = "bot00000000000000000000000"
	pWebhook  = "hook0000000000000000000000"
	pEdited   = "edit0000000000000000000000"
	pStranger = "strg0000000000000000000000"
	pOldEdit  = "oldedit0000000000000000000"
	pOrphan   = "orph0000000000000000000000"
)

// richRequest is an agent's request whose conversation has every kind of
// provenance and whose tool chain has short, long, digest-only and
// unfinished calls.
func richRequest(now time.Time) approval.NewRequest {
	ms := func(d time.Duration) int64 { return now.Add(-d).UnixMilli() }
	at := func(d time.Duration) time.Time { return now.Add(-d) }
	var long strings.Builder
	long.WriteString(`{"pods":[`)
	for i := range 20 {
		if i > 0 {
			long.WriteString(",")
		}
		fmt.Fprintf(&long, `{"name":"checkout-%d","restarts":%d}`, i, i*3)
	}
	long.WriteString(`]}`)
	return approval.NewRequest{
		Kind: models.KindAction, Action: "restart", Purpose: "checkout crash loop, INC-5001",
		Params:    map[string]any{"service": "checkout", "env": "prod", "replicas": 3},
		Requester: demodata.DeployBot,
		Source:    models.Source{TeamID: "t1", TeamName: "ops", ChannelID: "c1", ChannelName: "incidents", RootPostID: pRoot, TriggerPostID: pBot},
		Posts: []models.ConversationPost{
			{PostSnapshot: models.PostSnapshot{PostID: pRoot, AuthorID: demodata.Bob.ID, AuthorName: "bob", AuthorKind: models.AuthorHuman, ChannelMember: true, Message: "checkout pods crash-looping", CreateAt: ms(20 * time.Minute)}},
			{PostSnapshot: models.PostSnapshot{PostID: pBot, RootID: pRoot, AuthorID: demodata.DeployBot.ID, AuthorName: "deploy-bot", AuthorKind: models.AuthorBot, BotOwnerID: demodata.Dave.ID, ChannelMember: true, Message: "Proposal: restart checkout", CreateAt: ms(18 * time.Minute)}},
			{PostSnapshot: models.PostSnapshot{PostID: pWebhook, RootID: pRoot, AuthorID: demodata.Dave.ID, AuthorName: "dave", AuthorKind: models.AuthorWebhook, FromWebhook: true, OverrideUsername: "alice", ChannelMember: true, Message: "Approved ✅ go ahead", CreateAt: ms(17 * time.Minute)}},
			{PostSnapshot: models.PostSnapshot{PostID: pEdited, RootID: pRoot, AuthorID: demodata.Alice.ID, AuthorName: "alice", AuthorKind: models.AuthorHuman, ChannelMember: true, Message: "which pods?", CreateAt: ms(16 * time.Minute), EditAt: now.Add(time.Hour).UnixMilli()}},
			{PostSnapshot: models.PostSnapshot{PostID: pStranger, RootID: pRoot, AuthorID: "mallory-id", AuthorName: "mallory", AuthorKind: models.AuthorHuman, ChannelMember: false, Message: `<script>alert("pwned")</script><b>trust me</b>`, CreateAt: ms(15 * time.Minute)}},
			{PostSnapshot: models.PostSnapshot{PostID: pOldEdit, RootID: pRoot, AuthorID: demodata.Carol.ID, AuthorName: "carol", AuthorKind: models.AuthorHuman, ChannelMember: true, Message: "logs attached", CreateAt: ms(14 * time.Minute), EditAt: ms(13 * time.Minute)}},
			{PostSnapshot: models.PostSnapshot{PostID: pOrphan, RootID: pRoot, AuthorID: "helper-bot-id", AuthorName: "helper-bot", AuthorKind: models.AuthorBot, BotOwnerID: "unknown-owner-id", ChannelMember: true, Message: "LGTM", CreateAt: ms(13 * time.Minute)}},
		},
		ToolCalls: []models.ToolCall{
			{CallID: "c-1", Tool: "k8s.get_pods", Input: `{"ns":"checkout"}`, Output: `{"count":20}`, Status: models.ToolCallOK, StartedAt: at(19 * time.Minute), EndedAt: at(19*time.Minute - 250*time.Millisecond)},
			{CallID: "c-2", ParentID: "c-1", Tool: "k8s.describe", Input: `{"selector":"app=checkout"}`, Output: long.String(), Status: models.ToolCallOK, StartedAt: at(18 * time.Minute), EndedAt: at(18*time.Minute - 1500*time.Millisecond)},
			{CallID: "c-3", ParentID: "c-2", Tool: "logs.fetch", Input: `{"pod":"checkout-3"}`, OutputDigest: "sha256:5e1f0c", Status: models.ToolCallError, StartedAt: at(17 * time.Minute), EndedAt: at(17 * time.Minute)},
			{CallID: "c-4", ParentID: "c-1", Tool: "policy.dry_run", Input: `{"action":"restart"}`, Status: models.ToolCallPending, StartedAt: at(16 * time.Minute)},
		},
		TTL: time.Hour, RequiredApprovals: 2, PolicyRef: "prod/restart",
	}
}

func (f *requestsFixture) createRich(t testing.TB) *models.Request {
	t.Helper()
	r, err := f.svc.Create(context.Background(), richRequest(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func post(doc *goquery.Document, postID string) *goquery.Selection {
	return doc.Find(`[data-testid="post"][data-post-id="` + postID + `"]`)
}

func TestRequestPageShowsWhatIsAsked(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	r := f.byAction["rotate-secret"]
	doc := f.page(t, userAlice, "/requests/"+r.ID)

	checks := map[string]string{
		"request-id":        r.ID,
		"action":            "rotate-secret",
		"request-title":     "Credential exposed in build log, SEC-311",
		"approvals-summary": "0 of 2 approvals",
		"approvals-missing": "2 more from any approver",
		"content-hash":      r.ContentHash,
		"source-team":       "ops",
		"source-channel":    "~incidents",
	}
	for id, want := range checks {
		if got := squish(doc.Find(byTestID(id)).First()); got != want {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	// The heading says why, in words; the action code is beside the id.
	if doc.Find("h1 code").Length() != 0 {
		t.Error("the page heading is still the bare action code")
	}
	if got := squish(doc.Find(byTestID("request-sentence"))); got != "deploy-bot (an agent sponsored by dave) asks to run rotate-secret with env=prod notify=[\"payments-oncall\"] secret=payments/db-password from ~incidents, because: Credential exposed in build log, SEC-311." {
		t.Errorf("sentence %q", got)
	}
	if got, _ := doc.Find(byTestID("state-line")).Attr("data-stage"); got != "waiting" {
		t.Errorf("state line stage %q, want waiting", got)
	}
	if got := squish(doc.Find(byTestID("state-text"))); got != "Waiting for approvals: 0 of 2 so far, 2 more from any approver." {
		t.Errorf("state line %q", got)
	}
	if got := squish(doc.Find(byTestID("due"))); !strings.HasPrefix(got, "time left to decide: in ") {
		t.Errorf("countdown %q", got)
	}
	// Without grants or terms the default lifetime is said, and the agent
	// as the one who may redeem.
	if got := squish(doc.Find(byTestID("approval-effect"))); !strings.Contains(got, "valid 5 min") || !strings.Contains(got, "deploy-bot") {
		t.Errorf("what approving does: %q", got)
	}
	var risks []string
	doc.Find(byTestID("request-head") + " " + byTestID("risk")).Each(func(_ int, s *goquery.Selection) {
		k, _ := s.Attr("data-risk")
		risks = append(risks, k)
	})
	if !slices.Equal(risks, []string{"production", "agent"}) {
		t.Errorf("header risk flags %v, want production, agent", risks)
	}
	// No 26-character ids beside names: they are hover titles.
	if n := doc.Find("code.post-author-id").Length(); n != 0 {
		t.Errorf("%d raw user ids shown beside names", n)
	}
	// The decision panel comes before the evidence.
	html, _ := doc.Html()
	if strings.Index(html, `data-testid="section-decide"`) > strings.Index(html, `data-testid="section-conversation"`) {
		t.Error("the decision panel comes after the conversation")
	}
	params := map[string]string{}
	doc.Find(byTestID("param")).Each(func(_ int, s *goquery.Selection) {
		k, _ := s.Attr("data-param")
		params[k] = squish(s.Find(byTestID("param-value")))
	})
	want := map[string]string{"env": "prod", "notify": `["payments-oncall"]`, "secret": "payments/db-password"}
	if fmt.Sprint(params) != fmt.Sprint(want) {
		t.Errorf("params %v, want %v", params, want)
	}
	req := doc.Find(byTestID("request-summary"))
	if kind, _ := req.Find(byTestID("requester")).Attr("data-kind"); kind != "agent" {
		t.Errorf("requester kind %q", kind)
	}
	if got := squish(req.Find(byTestID("requester-sponsor"))); got != "sponsored by dave" {
		t.Errorf("sponsor %q", got)
	}
	if got := squish(doc.Find(byTestID("policy"))); !strings.Contains(got, "demo/secret-rotation") {
		t.Errorf("policy %q", got)
	}
	exp := doc.Find(byTestID("expires"))
	if dt, _ := exp.Find("time").Attr("datetime"); dt != r.ExpiresAt.UTC().Format(time.RFC3339) {
		t.Errorf("expiry datetime %q, want %s", dt, r.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if got := squish(exp); !strings.Contains(got, "UTC") || !strings.Contains(got, "(in ") {
		t.Errorf("expiry %q lacks the absolute UTC time or the relative hint", got)
	}
	if st, _ := doc.Find(byTestID("request-head") + " " + byTestID("state-badge")).Attr("data-state"); st != "pending" {
		t.Errorf("state badge %q", st)
	}
	if doc.Find(byTestID("content-verified")).Length() != 1 || doc.Find(byTestID("content-mismatch")).Length() != 0 {
		t.Error("untouched content is not reported as verified")
	}
	// Without a Mattermost URL there are no deep links, only names.
	if n := doc.Find(byTestID("channel-link") + "," + byTestID("root-link") + "," + byTestID("post-permalink")).Length(); n != 0 {
		t.Errorf("%d Mattermost links without a Mattermost URL", n)
	}
	if doc.Find(byTestID("share-url")).Length() != 0 {
		t.Error("share link without a public URL")
	}
}

func TestRequestPageLinksToMattermost(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{MattermostURL: "https://chat.example.com/", PublicURL: "https://countersign.example.com"})
	r := f.byAction["rotate-secret"]
	doc := f.page(t, userAlice, "/requests/"+r.ID)
	for id, want := range map[string]string{
		"channel-link": "https://chat.example.com/ops/channels/incidents",
		"root-link":    "https://chat.example.com/ops/pl/" + r.RootPostID,
		"trigger-link": "https://chat.example.com/ops/pl/" + r.TriggerPostID,
	} {
		if got, _ := doc.Find(byTestID(id)).Attr("href"); got != want {
			t.Errorf("%s href %q, want %q", id, got, want)
		}
	}
	if got, _ := post(doc, r.TriggerPostID).Find(byTestID("post-permalink")).Attr("href"); got != "https://chat.example.com/ops/pl/"+r.TriggerPostID {
		t.Errorf("post permalink %q", got)
	}
	// The page's own address is the id's hover, not a row of its own.
	if got, _ := doc.Find(byTestID("request-id")).Attr("title"); got != "https://countersign.example.com/requests/"+r.ID {
		t.Errorf("request id hover %q, want the page's absolute link", got)
	}
	if doc.Find(byTestID("share-url")).Length() != 0 {
		t.Error("the page still repeats its own URL in a row")
	}
}

func TestRequestPageShowsProvenanceOfEveryPost(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	r := f.createRich(t)
	doc := f.page(t, userAlice, "/requests/"+r.ID)

	if n := doc.Find(byTestID("post")).Length(); n != 7 {
		t.Fatalf("%d posts shown, want 7", n)
	}
	doc.Find(byTestID("post")).Each(func(i int, s *goquery.Selection) {
		if s.Find(byTestID("prov-human")+","+byTestID("prov-bot")+","+byTestID("prov-webhook")+","+byTestID("prov-command")).Length() != 1 {
			id, _ := s.Attr("data-post-id")
			t.Errorf("post %d (%s) has no single author-kind badge", i, id)
		}
	})

	root := post(doc, pRoot)
	if root.Find(byTestID("prov-human")).Length() != 1 || root.Find(byTestID("post-root")).Length() != 1 {
		t.Error("root post: want human and thread-root badges")
	}

	bot := post(doc, pBot)
	if bot.Find(byTestID("prov-bot")).Length() != 1 || bot.Find(byTestID("post-trigger")).Length() != 1 {
		t.Error("bot post: want bot and trigger badges")
	}
	if got := squish(bot.Find(byTestID("bot-owner"))); got != "owned by dave" {
		t.Errorf("bot owner %q, want the sponsor's name", got)
	}
	if got := squish(post(doc, pOrphan).Find(byTestID("bot-owner"))); got != "owned by unknown-owner-id" {
		t.Errorf("bot with an unknown owner: %q, want the owner id", got)
	}

	hook := post(doc, pWebhook)
	if hook.Find(byTestID("prov-webhook")).Length() != 1 {
		t.Error("webhook post has no webhook badge")
	}
	if got := squish(hook.Find(byTestID("post-author"))); got != "dave" {
		t.Errorf("webhook post attributed to %q, want the webhook's owner dave", got)
	}
	note := squish(hook.Find(byTestID("shown-as")))
	if !strings.Contains(note, "Shown in chat as “alice” — posted by webhook of user dave") {
		t.Errorf("webhook note %q", note)
	}
	// "alice" appears on this post only inside the "shown as" note.
	if got := squish(hook.Find(byTestID("prov-impersonation"))); got != "shown as alice" {
		t.Errorf("impersonation badge %q", got)
	}
	outside := hook.Clone()
	outside.Find(byTestID("shown-as") + "," + byTestID("prov-impersonation")).Remove()
	if strings.Contains(squish(outside), "alice") {
		t.Errorf("the overridden name appears outside the 'shown as' note: %q", squish(outside))
	}

	edited := post(doc, pEdited).Find(byTestID("prov-edited"))
	if squish(edited) != "edited after capture" {
		t.Errorf("post edited after capture: badge %q", squish(edited))
	}
	if old := post(doc, pOldEdit).Find(byTestID("prov-edited")); squish(old) != "edited" {
		t.Errorf("post edited before capture: badge %q", squish(old))
	}
	if post(doc, pRoot).Find(byTestID("prov-edited")).Length() != 0 {
		t.Error("unedited post marked edited")
	}

	if post(doc, pStranger).Find(byTestID("prov-not-member")).Length() != 1 {
		t.Error("post by a non-member lacks 'not a channel member'")
	}
	if n := doc.Find(byTestID("prov-not-member")).Length(); n != 1 {
		t.Errorf("%d posts marked not a channel member, want 1", n)
	}
}

func TestRequestPageSaysChatApprovalsAreNotApprovals(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	doc := f.page(t, userAlice, "/requests/"+f.byAction["scale"].ID)
	hook := post(doc, "53r6yo747pdepgmesqbnqa77br")
	if got := squish(hook.Find(byTestID("post-message"))); got != "Approved ✅ go ahead and scale" {
		t.Fatalf("message %q", got)
	}
	if !strings.Contains(squish(hook.Find(byTestID("not-approval"))), "This text is not an approval") {
		t.Error("'Approved ✅ go ahead' carries no not-an-approval notice")
	}
	if n := doc.Find(byTestID("not-approval")).Length(); n != 1 {
		t.Errorf("%d notices, want only the one on the approval-like post", n)
	}
	if !strings.Contains(squish(doc.Find(byTestID("claims-summary"))), "1 message in this conversation reads like an approval") {
		t.Errorf("summary %q", squish(doc.Find(byTestID("claims-summary"))))
	}
	// And the impersonated approver is named only as what was shown.
	if got := squish(hook.Find(byTestID("shown-as-name"))); got != "alice" {
		t.Errorf("shown-as name %q", got)
	}
	if got := squish(hook.Find(byTestID("post-author"))); got != "dave" {
		t.Errorf("author %q", got)
	}
}

func TestRequestPageRendersMessagesAsText(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	r := f.createRich(t)
	res := f.get(t, userAlice, "/requests/"+r.ID)
	if res.doc.Find("script:not([src])").Length() != 0 || res.doc.Find(byTestID("post-message")+" b").Length() != 0 {
		t.Fatal("a chat message was rendered as markup")
	}
	if !strings.Contains(res.body, `&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;`) {
		t.Error("the script text is not in the page, escaped")
	}
	if got := squish(post(res.doc, pStranger).Find(byTestID("post-message"))); got != `<script>alert("pwned")</script><b>trust me</b>` {
		t.Errorf("message text %q", got)
	}
}

func TestRequestPageShowsToolChainInOrder(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	r := f.createRich(t)
	doc := f.page(t, userAlice, "/requests/"+r.ID)
	calls := doc.Find(byTestID("tool-call"))
	var tools []string
	calls.Each(func(i int, s *goquery.Selection) {
		tools = append(tools, squish(s.Find(byTestID("tool-name"))))
		if idx, _ := s.Attr("data-index"); idx != fmt.Sprint(i+1) {
			t.Errorf("call %d has index %s", i, idx)
		}
	})
	if strings.Join(tools, " ") != "k8s.get_pods k8s.describe logs.fetch policy.dry_run" {
		t.Fatalf("tool order %v", tools)
	}
	c1, c2, c3, c4 := calls.Eq(0), calls.Eq(1), calls.Eq(2), calls.Eq(3)

	if st, _ := c3.Find(byTestID("tool-status")).Attr("data-status"); st != "error" {
		t.Errorf("c-3 status %q", st)
	}
	if c1.Find(byTestID("tool-parent")).Length() != 0 {
		t.Error("the first call has a parent")
	}
	if href, _ := c2.Find(byTestID("tool-parent") + " a").Attr("href"); href != "#tool-1" {
		t.Errorf("c-2 parent link %q, want #tool-1", href)
	}
	if href, _ := c4.Find(byTestID("tool-parent") + " a").Attr("href"); href != "#tool-1" {
		t.Errorf("c-4 parent link %q, want #tool-1", href)
	}
	if got := squish(c1.Find(byTestID("tool-duration"))); got != "250 ms" {
		t.Errorf("c-1 duration %q", got)
	}
	if !strings.Contains(squish(c4), "not finished") {
		t.Error("an unfinished call does not say so")
	}

	// Short JSON is open and pretty-printed; long output starts folded.
	in1 := c1.Find(byTestID("tool-input"))
	if _, open := in1.Attr("open"); !open {
		t.Error("short input is folded")
	}
	if got := in1.Find("pre").Text(); got != "{\n  \"ns\": \"checkout\"\n}" {
		t.Errorf("input not pretty-printed: %q", got)
	}
	out2 := c2.Find(byTestID("tool-output"))
	if _, open := out2.Attr("open"); open || out2.AttrOr("data-folded", "") != "true" {
		t.Error("long output is not folded")
	}
	if !strings.Contains(out2.Find("pre").Text(), `"name": "checkout-19"`) {
		t.Error("folded output is not all there")
	}
	if out2.Is("details") == false || out2.Find("summary").Length() != 1 {
		t.Error("output is not a <details> with a summary")
	}

	if got := squish(c3.Find(byTestID("tool-output-digest"))); !strings.Contains(got, "sha256:5e1f0c") {
		t.Errorf("digest-only output: %q", got)
	}
	if c3.Find(byTestID("tool-output")).Length() != 0 {
		t.Error("digest-only call shows an output block")
	}
}

func TestRequestPageDecisionForm(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	restart := f.byAction["restart"]

	doc := f.page(t, userAlice, "/requests/"+restart.ID)
	forms := doc.Find(byTestID("decision-forms") + " form")
	if forms.Length() != 2 {
		t.Fatalf("%d decision forms for an eligible approver, want approve and deny", forms.Length())
	}
	for _, name := range []string{"approve-form", "deny-form"} {
		form := doc.Find(byTestID(name))
		if m, _ := form.Attr("method"); m != "post" {
			t.Errorf("%s method %q", name, m)
		}
		if a, _ := form.Attr("action"); a != "/requests/"+restart.ID+"/decision" {
			t.Errorf("%s action %q", name, a)
		}
		if v, _ := form.Find(`input[type="hidden"][name="` + session.CSRFField + `"]`).Attr("value"); v != testCSRF {
			t.Errorf("%s CSRF field %q", name, v)
		}
		if v, _ := form.Find(`input[type="hidden"][name="content_hash"]`).Attr("value"); v != restart.ContentHash {
			t.Errorf("%s content_hash %q, want %s", name, v, restart.ContentHash)
		}
		id, _ := form.Find("textarea").Attr("id")
		if id == "" || form.Find(`label[for="`+id+`"]`).Length() != 1 {
			t.Errorf("%s comment field has no label", name)
		}
	}
	if v, _ := doc.Find(byTestID("approve-form") + ` input[name="verdict"]`).Attr("value"); v != "approve" {
		t.Errorf("approve form verdict %q", v)
	}
	if v, _ := doc.Find(byTestID("deny-form") + ` input[name="verdict"]`).Attr("value"); v != "deny" {
		t.Errorf("deny form verdict %q", v)
	}
	if _, req := doc.Find(byTestID("deny-form") + " textarea").Attr("required"); !req {
		t.Error("deny reason is not required")
	}
	if _, req := doc.Find(byTestID("approve-form") + " textarea").Attr("required"); req {
		t.Error("approve comment is required")
	}

	cases := []struct {
		name   string
		user   *session.User
		action string
		reason string
	}{
		{"requester", userCarol, "restart", "You made this request"},
		{"agent's sponsor", userDave, "rotate-secret", "You sponsor the agent"},
		{"no approver role", userAuditor, "restart", "Your roles do not allow deciding"},
		{"request no longer pending", userAlice, "flush-cache", "This request is executed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := f.page(t, tc.user, "/requests/"+f.byAction[tc.action].ID)
			if n := doc.Find(`form[method=post][action$="/decision"]`).Length(); n != 0 {
				t.Errorf("%d decision forms shown", n)
			}
			if got := squish(doc.Find(byTestID("cannot-decide"))); !strings.Contains(got, tc.reason) {
				t.Errorf("reason %q, want it to say %q", got, tc.reason)
			}
		})
	}
}

func TestRequestPageDecisionTimeline(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	r := f.byAction["rotate-secret"]
	f.decide(t, r, userBob, models.VerdictApprove, "rotation plan <looks> right")
	// A decision on content that has since changed stays on record but
	// does not count.
	stale := models.Decision{
		RequestID: r.ID, ApproverID: "old-approver-sub", ApproverName: "Olga Old", Verdict: models.VerdictApprove,
		ContentHash: strings.Repeat("0", 64), AuthTime: time.Now().Add(-time.Hour), CreatedAt: time.Now().Add(-30 * time.Minute),
	}
	if err := f.store.DB(context.Background()).Create(&stale).Error; err != nil {
		t.Fatal(err)
	}

	doc := f.page(t, userAlice, "/requests/"+r.ID)
	entries := doc.Find(byTestID("decision"))
	if entries.Length() != 2 {
		t.Fatalf("%d timeline entries, want 2", entries.Length())
	}
	bob := entries.FilterFunction(func(_ int, s *goquery.Selection) bool {
		return squish(s.Find(byTestID("decision-approver"))) == "Bob Approver"
	})
	if bob.Length() != 1 {
		t.Fatal("bob's decision is not in the timeline")
	}
	for id, want := range map[string]string{
		"decision-comment": "rotation plan <looks> right",
		"step-up-acr":      "urn:countersign:acr:mfa",
		"step-up-amr":      "pwd otp mfa",
		"decision-hash":    r.ContentHash,
	} {
		if got := squish(bob.Find(byTestID(id))); got != want {
			t.Errorf("bob's %s = %q, want %q", id, got, want)
		}
	}
	if bob.Find(byTestID("step-up-auth-time")+" time").Length() != 1 {
		t.Error("no step-up auth_time")
	}
	if bob.Find(byTestID("decision-counts")).Length() != 1 {
		t.Error("bob's decision on the current content does not count")
	}
	olga := entries.FilterFunction(func(_ int, s *goquery.Selection) bool {
		return squish(s.Find(byTestID("decision-approver"))) == "Olga Old"
	})
	if olga.Find(byTestID("decision-stale")).Length() != 1 || olga.Find(byTestID("decision-counts")).Length() != 0 {
		t.Error("a decision on earlier content is shown as counting")
	}
	if got := squish(doc.Find(byTestID("approvals-summary"))); got != "1 of 2 approvals" {
		t.Errorf("approvals %q, want 1 of 2", got)
	}
	if got := squish(doc.Find(byTestID("approved-by"))); got != "Bob Approver" {
		t.Errorf("approved by %q", got)
	}
	// Alice may still add the second approval; Bob has already decided.
	if doc.Find(byTestID("approve-form")).Length() != 1 {
		t.Error("alice cannot give the second approval")
	}
	bobsView := f.page(t, userBob, "/requests/"+r.ID)
	if bobsView.Find(byTestID("approve-form")).Length() != 0 || !strings.Contains(squish(bobsView.Find(byTestID("cannot-decide"))), "already decided") {
		t.Error("bob is offered a second decision")
	}
}

func TestRequestPageFlagsTamperedContent(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	r := f.byAction["restart"]
	// A view before the change is verified; the remembered result must not
	// hide the change afterwards.
	if f.page(t, userAlice, "/requests/"+r.ID).Find(byTestID("content-verified")).Length() != 1 {
		t.Fatal("untouched content not verified")
	}
	if err := f.store.DB(context.Background()).Model(&models.ConversationPost{}).
		Where("request_id = ? AND position = 0", r.ID).Update("message", "nothing to see").Error; err != nil {
		t.Fatal(err)
	}
	doc := f.page(t, userAlice, "/requests/"+r.ID)
	if doc.Find(byTestID("content-mismatch")).Length() != 1 || doc.Find(byTestID("content-verified")).Length() != 0 {
		t.Error("altered content is not reported")
	}
	if doc.Find(byTestID("approve-form")).Length() != 0 {
		t.Error("decision forms offered on content that no longer matches its hash")
	}
}

func TestRequestPageNotFound(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	unknown := f.get(t, userAlice, "/requests/REQ-0000000000")
	if unknown.code != http.StatusNotFound || !errors.Is(unknown.err, models.ErrNotFound) {
		t.Fatalf("unknown id: %d %v, want 404 ErrNotFound", unknown.code, unknown.err)
	}
	hidden := f.get(t, userEve, "/requests/"+f.byAction["scale"].ID)
	if hidden.code != http.StatusNotFound || !errors.Is(hidden.err, models.ErrNotFound) {
		t.Fatalf("request eve may not see: %d %v, want the same 404", hidden.code, hidden.err)
	}
	if hidden.body != unknown.body {
		t.Error("a hidden request answers differently from an unknown one")
	}
	// People type ids in chat without the prefix or in lower case.
	id := f.byAction["scale"].ID
	if r := f.get(t, userAlice, "/requests/"+strings.ToLower(strings.TrimPrefix(id, "REQ-"))); r.code != http.StatusOK {
		t.Errorf("normalised id: %d", r.code)
	}
	// Without a role, people still see their own requests.
	carolNoRole := *userCarol
	carolNoRole.Roles = nil
	if r := f.get(t, &carolNoRole, "/requests/"+f.byAction["restart"].ID); r.code != http.StatusOK {
		t.Errorf("requester without a role on her own request: %d", r.code)
	}
	daveNoRole := *userDave
	daveNoRole.Roles = nil
	if r := f.get(t, &daveNoRole, "/requests/"+f.byAction["rotate-secret"].ID); r.code != http.StatusOK {
		t.Errorf("sponsor without a role on his agent's request: %d", r.code)
	}
}

func TestRequestPageAfterExpiry(t *testing.T) {
	later := func() time.Time { return time.Now().Add(3 * time.Hour) }
	f := newRequestsFixture(t, RequestsOptions{Now: later})
	// The page and the domain read the same (moved) clock.
	f.h = NewRequests(approval.New(f.store, approval.Config{ApproverRoles: []string{"approver"}, Now: later}), RequestsOptions{Now: later})
	doc := f.page(t, userAlice, "/requests/"+f.byAction["restart"].ID)
	if st, _ := doc.Find(byTestID("request-head") + " " + byTestID("state-line")).Attr("data-stage"); st != "timed-out" {
		t.Errorf("an expired pending request reads as stage %q, want timed-out", st)
	}
	if doc.Find(byTestID("due")).Length() != 0 || doc.Find(byTestID("expires")).Length() != 0 {
		t.Error("a request whose time ran out still shows a countdown")
	}
	if doc.Find(byTestID("approve-form")).Length() != 0 || !strings.Contains(squish(doc.Find(byTestID("cannot-decide"))), "expired") {
		t.Error("decision forms offered after expiry")
	}
}

// failingReader is a RequestReader whose database is down.
type failingReader struct{ RequestReader }

var errDatabaseDown = errors.New("dial tcp 10.0.0.5:5432: connection refused")

func (failingReader) Counts(context.Context) (map[models.State]int64, error) {
	return nil, errDatabaseDown
}

func (failingReader) Get(context.Context, string) (*models.Request, error) {
	return nil, errDatabaseDown
}

func TestRequestPagesReturnStoreErrorsToTheErrorHandler(t *testing.T) {
	f := newRequestsFixture(t, RequestsOptions{})
	f.h = NewRequests(failingReader{f.svc}, RequestsOptions{})
	for _, target := range []string{"/", "/requests", "/requests/REQ-0000000000"} {
		r := f.get(t, userAlice, target)
		if r.code != http.StatusInternalServerError || !errors.Is(r.err, errDatabaseDown) {
			t.Errorf("%s: %d %v, want the wrapped store error for the error handler", target, r.code, r.err)
		}
		if strings.Contains(r.body, "10.0.0.5") {
			t.Errorf("%s: the page shows the internal error", target)
		}
	}
}
