package session

import (
	"errors"

	"github.com/labstack/echo/v4"
)

// Manager ties the store to the cookie and the echo context: each method
// changes the session in the database, the browser's cookie and the
// request's context together, so a handler cannot update one and forget
// another.
type Manager struct {
	store  *Store
	cookie Cookie
}

// NewManager returns a manager over store, writing cookie.
func NewManager(store *Store, cookie Cookie) *Manager {
	return &Manager{store: store, cookie: cookie}
}

// Store is the underlying session store.
func (m *Manager) Store() *Store { return m.store }

// Cookie is the cookie the manager writes.
func (m *Manager) Cookie() Cookie { return m.cookie }

// Load puts the browser's session, if it has a valid one, into the
// context. A cookie naming no valid session is cleared. Only a database
// failure is returned as an error.
func (m *Manager) Load(c echo.Context) error {
	id := m.cookie.Read(c)
	if id == "" {
		return nil
	}
	s, err := m.store.Load(c.Request().Context(), id)
	if errors.Is(err, ErrNoSession) {
		m.cookie.Clear(c)
		return nil
	}
	if err != nil {
		return err
	}
	WithSession(c, s)
	return nil
}

// Ensure returns the request's session, starting an anonymous one (and
// setting its cookie) when the browser has none.
func (m *Manager) Ensure(c echo.Context) (*Session, error) {
	if s, ok := From(c); ok {
		return s, nil
	}
	s, err := m.store.Create(c.Request().Context())
	if err != nil {
		return nil, err
	}
	m.cookie.Write(c, s.id)
	WithSession(c, s)
	return s, nil
}

// SetPending records a sign-in in progress on s (see Store.SetPending).
func (m *Manager) SetPending(c echo.Context, s *Session, login PendingLogin, decision *PendingDecision) error {
	return m.store.SetPending(c.Request().Context(), s, login, decision)
}

// TakePending removes and returns the sign-in in progress on s, once (see
// Store.TakePending).
func (m *Manager) TakePending(c echo.Context, s *Session) (PendingLogin, *PendingDecision, error) {
	return m.store.TakePending(c.Request().Context(), s)
}

// SignIn replaces s by a new session for u (see Store.SignIn) and sends
// its cookie.
func (m *Manager) SignIn(c echo.Context, s *Session, u *User, rawIDToken string) (*Session, error) {
	next, err := m.store.SignIn(c.Request().Context(), s, u, rawIDToken)
	return m.switchTo(c, next, err)
}

// Reauthenticate replaces s by a new session for u after a step-up (see
// Store.Reauthenticate) and sends its cookie.
func (m *Manager) Reauthenticate(c echo.Context, s *Session, u *User, rawIDToken string) (*Session, error) {
	next, err := m.store.Reauthenticate(c.Request().Context(), s, u, rawIDToken)
	return m.switchTo(c, next, err)
}

func (m *Manager) switchTo(c echo.Context, next *Session, err error) (*Session, error) {
	if err != nil {
		return nil, err
	}
	m.cookie.Write(c, next.id)
	WithSession(c, next)
	return next, nil
}

// End deletes s, clears the cookie and the context's user.
func (m *Manager) End(c echo.Context, s *Session) error {
	if err := m.store.Delete(c.Request().Context(), s); err != nil {
		return err
	}
	m.cookie.Clear(c)
	WithSession(c, nil)
	return nil
}
