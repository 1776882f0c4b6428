package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/web/oidcrp"
	"github.com/countersign/countersign/web/session"
)

// RelyingParty is what sign-in, step-up and logout need from the OIDC
// client; *oidcrp.RP implements it.
type RelyingParty interface {
	Begin(opts oidcrp.AuthOptions) (authURL string, pending oidcrp.Pending, err error)
	Complete(ctx context.Context, pending oidcrp.Pending, query url.Values) (*oidcrp.Identity, error)
	EndSessionURL(idTokenHint, postLogoutRedirect string) (string, bool)
}

// StepUpResult is what came back from a step-up authentication.
type StepUpResult struct {
	// Identity is the verified identity; nil when Err is set.
	Identity *oidcrp.Identity
	// User is Identity mapped afresh (username, roles from the groups in
	// this very token, its evidence); nil when Err is set. A decision
	// finished by the step-up is made with these roles, so someone whose
	// group the IdP withdrew cannot decide on the strength of an earlier
	// sign-in.
	User *session.User
	// Err is why the relying party refused the answer, if it did.
	Err error
	// Pending is the one-time pending decision taken from the session;
	// nil if the session had none.
	Pending *session.PendingDecision
}

// AuthConfig is the sign-in area's configuration.
type AuthConfig struct {
	// Mapping turns the IdP's identity into a User (username claim,
	// group → role map).
	Mapping session.Mapping
	// PublicURL is the portal's base URL; after an RP-initiated logout the
	// IdP sends the browser to PublicURL + "/", which must be registered
	// at the IdP as a post-logout redirect URI.
	PublicURL string
	// SignInStepUp, when set, makes every sign-in ask the provider for
	// this rule's strength up front (max_age, acr_values, amr), so that a
	// fresh strong sign-in counts for the first decision without a second
	// login. A weaker sign-in still signs the person in.
	SignInStepUp *approval.StepUpRule
	// Again is the strength a signed-in person's "sign in again" asks the
	// provider for (POST /login/again): the decisions' step-up rule, which
	// is also what adding or changing a passkey needs.
	Again approval.StepUpRule
	// Logger receives sign-in, sign-out and refusal events (never tokens,
	// codes or session ids). Nil discards them.
	Logger *slog.Logger
}

// Auth serves sign-in (GET /login), the OIDC callback (GET /auth/callback)
// and sign-out (POST /logout).
type Auth struct {
	rp       RelyingParty
	sessions *session.Manager
	stepUp   *Decisions
	cfg      AuthConfig
	log      *slog.Logger
}

// NewAuth returns the sign-in handlers. stepUp completes decisions whose
// step-up returns through the same callback; nil refuses such callbacks.
func NewAuth(rp RelyingParty, sessions *session.Manager, stepUp *Decisions, cfg AuthConfig) *Auth {
	return &Auth{rp: rp, sessions: sessions, stepUp: stepUp, cfg: cfg, log: loggerOr(cfg.Logger)}
}

// requestID is the current request's id for log lines written here.
func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// logEvent writes one security event with the request id and the user's
// subject (never a token or session id).
func logEvent(log *slog.Logger, c echo.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	attrs = append([]slog.Attr{slog.String("request_id", requestID(c))}, attrs...)
	log.LogAttrs(c.Request().Context(), level, msg, attrs...)
}

// errAttr is the error of a refusal for the log.
func errAttr(err error) slog.Attr {
	if err == nil {
		return slog.String("error", "")
	}
	return slog.String("error", err.Error())
}

// isSignInProblem reports whether err comes from the session store's
// "nothing in progress" answers.
func isSignInProblem(err error) bool {
	return errors.Is(err, session.ErrNoPending) || errors.Is(err, session.ErrNoSession)
}
