package demoidp

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// maxFormBytes bounds login form bodies.
const maxFormBytes = 16 << 10

// loginPage is where the op library sends the browser after /authorize.
// It answers from the SSO session when the request allows that, and shows
// the password form otherwise.
func (p *Provider) loginPage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("authRequestID")
	req, err := p.store.requestByID(id)
	if err != nil || req.done {
		p.renderFailure(w, errUnknownRequest)
		return
	}
	if sess, ok := p.reusableSession(r, req); ok {
		p.finish(w, r, req, sess.subject, sess.username, sess.authTime, sess.strength, false)
		return
	}
	if req.promptNone {
		// prompt=none: the client asked us not to show any page, so tell
		// it (at its redirect_uri) that a login is needed.
		p.store.abandon(id)
		p.redirectError(w, r, req, oidc.ErrLoginRequired())
		return
	}
	browserID := p.cookies.get(r, browserCookie)
	if browserID == "" {
		if browserID, err = randomToken(32); err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		p.cookies.set(w, browserCookie, browserID, 0)
	}
	bound, err := p.store.bindLogin(id, browserID)
	if err != nil {
		p.renderFailure(w, err)
		return
	}
	if bound.passwordUser != "" {
		p.renderOTP(w, bound, http.StatusOK, "")
		return
	}
	p.renderPassword(w, bound, http.StatusOK, "", "")
}

// reusableSession returns the browser's SSO session when the request lets
// it stand in for a fresh login: no prompt=login, within max_age, strong
// enough for the acr asked, and for the user an id_token_hint names.
func (p *Provider) reusableSession(r *http.Request, req *authRequest) (ssoSession, bool) {
	sess, ok := p.sessions.lookup(p.cookies.get(r, sessionCookie))
	if !ok || req.promptLogin {
		return ssoSession{}, false
	}
	if req.maxAge != nil {
		if *req.maxAge <= 0 || p.cfg.now().Sub(sess.authTime) > *req.maxAge {
			return ssoSession{}, false
		}
	}
	if req.mfaRequired() && sess.strength.acr != ACRMFA {
		return ssoSession{}, false
	}
	if req.hintSubject != "" && req.hintSubject != sess.subject {
		return ssoSession{}, false
	}
	if _, known := p.store.creds.accountBySubject(sess.subject); !known {
		return ssoSession{}, false
	}
	return sess, true
}

// loginPassword checks the first factor.
func (p *Provider) loginPassword(w http.ResponseWriter, r *http.Request) {
	req, ok := p.postedRequest(w, r)
	if !ok {
		return
	}
	username := strings.TrimSpace(r.PostForm.Get("username"))
	acct, valid := p.store.creds.checkPassword(username, r.PostForm.Get("password"))
	if !valid {
		p.cfg.log.InfoContext(r.Context(), "demoidp: password rejected", "client_id", req.clientID)
		if err := p.store.recordFailure(req.id); err != nil {
			p.renderFailure(w, err)
			return
		}
		p.renderPassword(w, req, http.StatusUnauthorized, username, "Invalid username or password.")
		return
	}
	if acct.totpSecret == "" {
		if req.mfaRequired() {
			p.renderPassword(w, req, http.StatusForbidden, username,
				"This sign-in needs a second factor, and this account has none enrolled.")
			return
		}
		p.finish(w, r, req, acct.subject, acct.profile.Username, p.cfg.now(), passwordOnly(), true)
		return
	}
	next, err := p.store.passPassword(req.id, acct.profile.Username)
	if err != nil {
		p.renderFailure(w, err)
		return
	}
	p.renderOTP(w, next, http.StatusOK, "")
}

// loginOTP checks (or, when allowed, skips) the second factor.
func (p *Provider) loginOTP(w http.ResponseWriter, r *http.Request) {
	req, ok := p.postedRequest(w, r)
	if !ok {
		return
	}
	acct, known := p.store.creds.accounts[req.passwordUser]
	if req.passwordUser == "" || !known {
		p.renderFailure(w, errWrongBrowser)
		return
	}
	if r.PostForm.Get("action") == "skip" {
		if req.mfaRequired() {
			p.renderOTP(w, req, http.StatusForbidden, "A second factor is required for this sign-in.")
			return
		}
		p.finish(w, r, req, acct.subject, acct.profile.Username, p.cfg.now(), passwordOnly(), true)
		return
	}
	code := strings.ReplaceAll(strings.TrimSpace(r.PostForm.Get("code")), " ", "")
	now := p.cfg.now()
	if !p.store.creds.checkTOTP(acct, code, now) {
		p.cfg.log.InfoContext(r.Context(), "demoidp: totp rejected", "client_id", req.clientID, "user", acct.profile.Username)
		if err := p.store.recordFailure(req.id); err != nil {
			p.renderFailure(w, err)
			return
		}
		p.renderOTP(w, req, http.StatusUnauthorized, "That code is not valid. Codes can be used once; wait for the next one.")
		return
	}
	p.finish(w, r, req, acct.subject, acct.profile.Username, now, passwordAndTOTP(), true)
}

// postedRequest parses a login form and checks that it belongs to this
// browser and carries the request's CSRF token.
func (p *Provider) postedRequest(w http.ResponseWriter, r *http.Request) (*authRequest, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		p.renderFailure(w, errWrongBrowser)
		return nil, false
	}
	req, err := p.store.checkForm(r.PostForm.Get("authRequestID"), p.cookies.get(r, browserCookie), r.PostForm.Get("csrf"))
	if err != nil {
		p.renderFailure(w, err)
		return nil, false
	}
	return req, true
}

// finish marks the request authenticated, starts a new SSO session after a
// real login, and sends the browser to the op library's callback, which
// issues the code and redirects to the client.
func (p *Provider) finish(w http.ResponseWriter, r *http.Request, req *authRequest, subject, username string,
	authTime time.Time, strength authStrength, fresh bool) {
	if err := p.store.complete(req.id, subject, authTime, strength); err != nil {
		p.renderFailure(w, err)
		return
	}
	if fresh {
		// A new login replaces whatever session this browser had.
		if old := p.cookies.get(r, sessionCookie); old != "" {
			p.sessions.end(old)
		}
		value, err := p.sessions.create(ssoSession{subject: subject, username: username, authTime: authTime, strength: strength})
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		p.cookies.set(w, sessionCookie, value, p.cfg.sessionTTL)
	}
	p.cfg.log.InfoContext(r.Context(), "demoidp: login", "user", username, "client_id", req.clientID,
		"acr", strength.acr, "sso", !fresh)
	http.Redirect(w, r, p.callbackURL(r.Context(), req.id), http.StatusSeeOther)
}

// redirectError sends an OAuth error to the client's (already validated)
// redirect URI. It builds the response itself rather than calling
// op.AuthRequestError, which would log the client's state value.
func (p *Provider) redirectError(w http.ResponseWriter, r *http.Request, req *authRequest, e *oidc.Error) {
	e.State = req.state
	target, err := op.AuthResponseURL(req.redirectURI, req.responseType, req.responseMode, e, p.op.Encoder())
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, target, http.StatusFound)
}

func (p *Provider) callbackURL(ctx context.Context, id string) string {
	return op.AuthCallbackURL(p.op)(op.ContextWithIssuer(ctx, p.cfg.issuer), id)
}

func (p *Provider) renderPassword(w http.ResponseWriter, req *authRequest, status int, username, errMsg string) {
	render(w, p.pages.login, status, p.page("Sign in", pageData{
		ClientID:      req.clientID,
		Notices:       requestNotices(req),
		Error:         errMsg,
		AuthRequestID: req.id,
		CSRF:          req.csrfToken,
		Username:      username,
	}))
}

func (p *Provider) renderOTP(w http.ResponseWriter, req *authRequest, status int, errMsg string) {
	render(w, p.pages.otp, status, p.page("Second factor", pageData{
		ClientID:      req.clientID,
		Notices:       requestNotices(req),
		Error:         errMsg,
		AuthRequestID: req.id,
		CSRF:          req.csrfToken,
		Username:      req.passwordUser,
		AllowSkip:     !req.mfaRequired(),
	}))
}

// renderFailure shows a dead end without saying more than needed.
func (p *Provider) renderFailure(w http.ResponseWriter, err error) {
	status, msg := http.StatusBadRequest, "This sign-in link is unknown or has expired. Start again from the application."
	switch {
	case errors.Is(err, errWrongBrowser):
		status, msg = http.StatusForbidden, "This sign-in form was not issued to this browser. Start again from the application."
	case errors.Is(err, errTooManyFailed):
		status, msg = http.StatusTooManyRequests, "Too many failed attempts. Start again from the application."
	}
	render(w, p.pages.message, status, p.page("Cannot sign in", pageData{Message: msg}))
}

// requestNotices explains to the person why they are asked to log in
// again or for a code, so step-up does not look like a glitch.
func requestNotices(req *authRequest) []string {
	var n []string
	if req.promptLogin || (req.maxAge != nil && *req.maxAge == 0) {
		n = append(n, "The application asked you to sign in again, even if you are already signed in.")
	} else if req.maxAge != nil {
		n = append(n, "The application needs a sign-in from the last "+req.maxAge.String()+".")
	}
	if req.mfaRequired() {
		n = append(n, "The application asked for a second factor (authenticator code).")
	}
	return n
}
