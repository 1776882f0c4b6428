package handlers

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/models/comment"
	"github.com/countersign/countersign/models/policy"
	"github.com/countersign/countersign/models/terms"
	"github.com/countersign/countersign/web/session"
)

// RequestReader is what the request pages need from the approval service
// (*approval.Service satisfies it): reads and the decision-eligibility
// check, nothing that changes state.
type RequestReader interface {
	Get(ctx context.Context, id string) (*models.Request, error)
	List(ctx context.Context, f approval.Filter) (*approval.Page, error)
	ListActionable(ctx context.Context, a approval.Approver, f approval.Filter) (*approval.Page, error)
	ListByRequester(ctx context.Context, who string, limit int) ([]models.Request, error)
	RecentDecisions(ctx context.Context, limit int) ([]approval.DecisionRow, error)
	Counts(ctx context.Context) (map[models.State]int64, error)
	CanDecide(r *models.Request, a approval.Approver, contentHash string) error
	SeesAll(a approval.Approver) bool
	MayEverDecide(a approval.Approver) bool
	// LoadTriage adds the decisions and post provenance list rows need.
	LoadTriage(ctx context.Context, items []models.Request) error
	MayView(r *models.Request, a approval.Approver) bool
	// StepUpFor is the sign-in rule deciding r asks for, so the page can
	// say whether the current sign-in will do and until when.
	StepUpFor(r *models.Request) approval.StepUpRule
	FindByPost(ctx context.Context, postID string) (*models.Request, error)
	// Revisions and LaterDiscussion are what re-reading the conversation
	// found (edits, deletions, posts since the capture).
	Revisions(ctx context.Context, id string) ([]models.PostRevision, error)
	LaterDiscussion(ctx context.Context, id string) ([]models.LaterPost, error)
}

// RequestsOptions configures the request pages.
type RequestsOptions struct {
	// MattermostURL is the Mattermost site URL, e.g.
	// https://chat.example.com. Channel links and post permalinks derive
	// from it; empty hides them.
	MattermostURL string
	// PublicURL is the portal's own base URL. The request page shows the
	// absolute link to itself for pasting into chat; empty hides it.
	PublicURL string
	// Now is the clock for relative times and expiry; nil means time.Now.
	Now func() time.Time
	// Executions shows each request's execution after its approved
	// content (*execution.Service); nil shows none.
	Executions ExecutionReader
	// Receipts finds the audit events of decisions so each decision links
	// its receipt (*proof.Checkpointer); nil shows no receipt links.
	Receipts *proof.Checkpointer
	// Grants shows each request's grant next to its execution
	// (*grant.Service); nil shows none.
	Grants GrantReader
	// Terms says, before anyone approves, which executor a request's grant
	// will be for and how long it will live (*grant.Service); nil falls
	// back to the catalogue and the default lifetime.
	Terms TermsReader
	// Catalogue is the policy in force, for the action's description and
	// executor; nil shows the bare action name.
	Catalogue func() *policy.Policy
	// Comments lists each request's comments on its page; nil shows
	// none.
	Comments *comment.Service
	// Passkeys says whether the viewer has a passkey, to offer signing
	// decisions with it (*passkey.Service); nil offers none.
	Passkeys PasskeyCounter
}

// PasskeyCounter counts a person's unrevoked passkeys.
type PasskeyCounter interface {
	Active(ctx context.Context, ownerID string) (int, error)
}

// TermsReader loads the terms frozen on a request at creation.
type TermsReader interface {
	Terms(ctx context.Context, requestID string) (terms.Terms, bool, error)
}

// Requests serves the read-only request pages: the dashboard, the list of
// all requests and the request page. Decisions are posted elsewhere (the
// decision handler); this area only renders the forms.
type Requests struct {
	svc       RequestReader
	mmURL     string
	publicURL string
	now       func() time.Time
	execs     ExecutionReader
	receipts  *proof.Checkpointer
	grants    GrantReader
	terms     TermsReader
	catalogue func() *policy.Policy
	comments  *comment.Service
	passkeys  PasskeyCounter
}

// NewRequests returns the request pages' handler. Register:
//
//	GET /               → Dashboard (signed-in people)
//	GET /requests       → List
//	GET /requests/:id   → Show
//	GET /mm/:post_id    → FromPost
func NewRequests(svc RequestReader, opts RequestsOptions) *Requests {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Requests{
		svc:       svc,
		mmURL:     strings.TrimRight(strings.TrimSpace(opts.MattermostURL), "/"),
		publicURL: strings.TrimRight(strings.TrimSpace(opts.PublicURL), "/"),
		now:       func() time.Time { return now().UTC() },
		execs:     opts.Executions,
		receipts:  opts.Receipts,
		grants:    opts.Grants,
		terms:     opts.Terms,
		catalogue: opts.Catalogue,
		comments:  opts.Comments,
		passkeys:  opts.Passkeys,
	}
}

// Page sizes of the dashboard's secondary sections.
const (
	dashboardMine   = 10
	dashboardRecent = 20
)

// signedIn returns the session's user. The session middleware normally
// sends anonymous visitors to login before they get here; this is the
// backstop if a route is registered without it.
func signedIn(c echo.Context) (*session.User, error) {
	u, ok := session.UserFrom(c)
	if !ok {
		return nil, echo.NewHTTPError(http.StatusUnauthorized)
	}
	return u, nil
}
