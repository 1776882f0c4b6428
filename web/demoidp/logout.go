package demoidp

import (
	"net/http"
)

// endSession ends the browser's SSO session before the op library
// validates the request and redirects. The library's storage hook cannot
// see cookies, so without this the next login would silently reuse the
// session the person just logged out of.
func (p *Provider) endSession(w http.ResponseWriter, r *http.Request) {
	if value := p.cookies.get(r, sessionCookie); value != "" {
		if sess, ok := p.sessions.end(value); ok {
			p.cfg.log.InfoContext(r.Context(), "demoidp: logout", "user", sess.username)
		}
	}
	p.cookies.clear(w, sessionCookie)
	p.op.ServeHTTP(w, r)
}

// loggedOut is where end_session lands when the RP gave no (valid)
// post_logout_redirect_uri.
func (p *Provider) loggedOut(w http.ResponseWriter, _ *http.Request) {
	render(w, p.pages.message, http.StatusOK, p.page("Signed out", pageData{
		Message: "You are signed out of the demo identity provider.",
	}))
}
