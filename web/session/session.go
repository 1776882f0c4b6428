package session

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"
)

// Session is one browser's server-side session as loaded for a request.
// Its id never leaves this package except in the cookie: it is not
// exported, not logged and not stored (only its hash is).
type Session struct {
	id     string
	idHash string

	// CSRFToken is the synchronizer token every state-changing form of
	// this session must carry in its CSRFField.
	CSRFToken string
	// User is who signed in, nil before sign-in (a session that only
	// carries a sign-in in progress).
	User *User
	// IDToken is the raw ID token of the latest sign-in, kept only as the
	// id_token_hint of an RP-initiated logout. Never log or show it.
	IDToken string

	// CreatedAt is when the session (or its current sign-in) began.
	CreatedAt time.Time
	// LastSeenAt is the last recorded activity (updated at most once a
	// minute, so idle expiry may come up to that much early).
	LastSeenAt time.Time
	// ExpiresAt is when the session ends unless used again: the earlier of
	// the idle and the absolute deadline.
	ExpiresAt time.Time
	// AbsoluteExpiresAt is when the session ends however active it is.
	AbsoluteExpiresAt time.Time
}

// SignedIn reports whether a user is signed in on this session.
func (s *Session) SignedIn() bool { return s != nil && s.User != nil }

// String describes the session without its secrets, so a stray %v in a
// log line cannot leak the id, the CSRF token or the ID token.
func (s *Session) String() string {
	if s == nil {
		return "session(none)"
	}
	who := "anonymous"
	if s.User != nil {
		who = "sub=" + s.User.Subject
	}
	return fmt.Sprintf("session(%s, expires %s)", who, s.ExpiresAt.UTC().Format(time.RFC3339))
}

// LogValue implements slog.LogValuer with the same redaction as String.
func (s *Session) LogValue() slog.Value { return slog.StringValue(s.String()) }

// sessionKey is the echo context key of the current session.
const sessionKey = "countersign.session.current"

// WithSession stores s as the request's session, with its user and CSRF
// token (session middleware and the sign-in handlers only).
func WithSession(c echo.Context, s *Session) {
	c.Set(sessionKey, s)
	if s == nil {
		WithUser(c, nil)
		WithCSRFToken(c, "")
		return
	}
	WithUser(c, s.User)
	WithCSRFToken(c, s.CSRFToken)
}

// From returns the request's session, if the browser has a valid one.
func From(c echo.Context) (*Session, bool) {
	s, ok := c.Get(sessionKey).(*Session)
	return s, ok && s != nil
}
