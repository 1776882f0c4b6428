package demoidp

import (
	"crypto/subtle"
	"time"
)

// The login UI changes an auth request only through these methods, each
// under the store lock, so two tabs or a double-clicked button cannot
// race one login into two states.

// bindLogin ties the request to the browser that first opens its login
// form and gives it a CSRF token. Opening it from another browser fails,
// so an attacker cannot start a login and have a victim finish it (login
// CSRF).
func (s *store) bindLogin(id, browserID string) (*authRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.liveLocked(id, s.cfg.now())
	if err != nil {
		return nil, err
	}
	if r.done {
		return nil, errUnknownRequest
	}
	if r.browserID == "" {
		token, err := randomToken(32)
		if err != nil {
			return nil, err
		}
		r.browserID = browserID
		r.csrfToken = token
	} else if !equalSecret(r.browserID, browserID) {
		return nil, errWrongBrowser
	}
	return r.clone(), nil
}

// checkForm verifies a posted login form: the same browser, and the CSRF
// token this request handed out, both compared in constant time.
func (s *store) checkForm(id, browserID, csrf string) (*authRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.liveLocked(id, s.cfg.now())
	if err != nil {
		return nil, err
	}
	if r.done || r.browserID == "" {
		return nil, errUnknownRequest
	}
	browserOK := equalSecret(r.browserID, browserID)
	csrfOK := equalSecret(r.csrfToken, csrf)
	if !browserOK || !csrfOK {
		return nil, errWrongBrowser
	}
	return r.clone(), nil
}

// recordFailure counts a wrong password or code and abandons the request
// once the limit is reached, so one login page cannot be used to guess.
func (s *store) recordFailure(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.liveLocked(id, s.cfg.now())
	if err != nil {
		return err
	}
	r.failures++
	if r.failures >= s.cfg.maxFailures {
		delete(s.requests, id)
		return errTooManyFailed
	}
	return nil
}

// passPassword records that the password step succeeded for username, so
// the TOTP step knows whose code to check. It rotates the CSRF token so a
// password form cannot be replayed as a TOTP form.
func (s *store) passPassword(id, username string) (*authRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.liveLocked(id, s.cfg.now())
	if err != nil {
		return nil, err
	}
	token, err := randomToken(32)
	if err != nil {
		return nil, err
	}
	r.passwordUser = username
	r.csrfToken = token
	return r.clone(), nil
}

// passedPassword returns the live request id when browserID is the
// browser it is bound to and its password step succeeded, for what only
// that browser may see on the second-factor step.
func (s *store) passedPassword(id, browserID string) (*authRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.liveLocked(id, s.cfg.now())
	if err != nil {
		return nil, err
	}
	if r.done || r.passwordUser == "" || !equalSecret(r.browserID, browserID) {
		return nil, errWrongBrowser
	}
	return r.clone(), nil
}

// complete marks the request authenticated, after which the op library's
// callback issues the code.
func (s *store) complete(id, subject string, authTime time.Time, strength authStrength) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.liveLocked(id, s.cfg.now())
	if err != nil {
		return err
	}
	if r.done {
		return errUnknownRequest
	}
	r.done = true
	r.subject = subject
	r.authTime = authTime
	r.strength = authStrength{acr: strength.acr, amr: append([]string(nil), strength.amr...)}
	r.csrfToken = ""
	return nil
}

// abandon forgets a request that can no longer succeed (prompt=none
// without a session, for instance).
func (s *store) abandon(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.requests, id)
}

// equalSecret compares two secrets in constant time; an empty expected
// value never matches.
func equalSecret(want, got string) bool {
	if want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}
