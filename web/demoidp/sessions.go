package demoidp

import (
	"crypto/sha256"
	"net/http"
	"sync"
	"time"
)

// Cookie names. Both are scoped to the provider's path prefix, so when it
// is mounted inside the portal they never mix with the portal's cookies.
const (
	sessionCookie = "demoidp_session"
	browserCookie = "demoidp_browser"
)

// ssoSession is what the provider remembers about a browser that logged
// in, so a later request without prompt=login (and within max_age) does
// not ask again.
type ssoSession struct {
	subject   string
	username  string
	authTime  time.Time
	strength  authStrength
	expiresAt time.Time
}

// sessionStore keeps SSO sessions keyed by a digest of the cookie value, so
// the map never holds a usable cookie and lookups do not compare secrets
// byte by byte.
type sessionStore struct {
	ttl time.Duration
	now func() time.Time

	mu       sync.Mutex
	sessions map[[32]byte]ssoSession
}

func newSessionStore(ttl time.Duration, now func() time.Time) *sessionStore {
	return &sessionStore{ttl: ttl, now: now, sessions: make(map[[32]byte]ssoSession)}
}

func sessionKey(cookieValue string) [32]byte {
	return sha256.Sum256([]byte("countersign-demoidp-session:" + cookieValue))
}

// create starts a new session and returns the cookie value. A new value on
// every login means a session id planted before login is worthless
// (session fixation).
func (s *sessionStore) create(sess ssoSession) (string, error) {
	value, err := randomToken(32)
	if err != nil {
		return "", err
	}
	now := s.now()
	sess.expiresAt = now.Add(s.ttl)
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.sessions {
		if now.After(v.expiresAt) {
			delete(s.sessions, k)
		}
	}
	s.sessions[sessionKey(value)] = sess
	return value, nil
}

// lookup returns the live session for a cookie value.
func (s *sessionStore) lookup(cookieValue string) (ssoSession, bool) {
	if cookieValue == "" {
		return ssoSession{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[sessionKey(cookieValue)]
	if !ok || s.now().After(sess.expiresAt) {
		return ssoSession{}, false
	}
	return sess, true
}

// end forgets the session behind a cookie value.
func (s *sessionStore) end(cookieValue string) (ssoSession, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sessionKey(cookieValue)
	sess, ok := s.sessions[k]
	delete(s.sessions, k)
	return sess, ok
}

// cookieJar writes and reads the provider's cookies with the right scope
// and flags.
type cookieJar struct {
	path   string
	secure bool
}

func (j cookieJar) set(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     j.path,
		MaxAge:   int(maxAge / time.Second),
		HttpOnly: true,
		Secure:   j.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

func (j cookieJar) clear(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    "",
		Path:     j.path,
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   j.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

func (j cookieJar) get(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}
