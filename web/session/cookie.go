package session

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// Cookie names. The __Host- prefix (served over https) makes browsers
// refuse the cookie unless it is Secure, has Path=/ and no Domain, so a
// sibling subdomain cannot plant or overwrite it. Browsers reject that
// prefix on plain http, hence the second name.
const (
	CookieNameHTTPS = "__Host-countersign"
	CookieNameHTTP  = "countersign_session"
)

// Cookie writes and reads the session cookie. It holds only the opaque
// session id; everything else stays server-side.
type Cookie struct {
	name string
}

// NewCookie returns the cookie settings for a portal served over https
// (tls true) or plain http.
func NewCookie(tls bool) Cookie {
	if tls {
		return Cookie{name: CookieNameHTTPS}
	}
	return Cookie{name: CookieNameHTTP}
}

// Name is the cookie's name.
func (ck Cookie) Name() string { return ck.name }

// base has the attributes every write shares. Secure is set even on plain
// http: browsers (and Go's cookie jar) accept Secure cookies from
// http://localhost and loopback addresses, which is where an http portal
// belongs. HttpOnly keeps scripts away from it; SameSite=Lax keeps it off
// cross-site POSTs while still sending it on the IdP's redirect back. No
// Expires: a browser-session cookie, the server enforces the timeouts.
func (ck Cookie) base(value string) *http.Cookie {
	return &http.Cookie{
		Name:     ck.name,
		Value:    value,
		Path:     "/",
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

// Write sets the cookie to id.
func (ck Cookie) Write(c echo.Context, id string) { c.SetCookie(ck.base(id)) }

// Clear tells the browser to drop the cookie.
func (ck Cookie) Clear(c echo.Context) {
	k := ck.base("")
	k.MaxAge = -1
	c.SetCookie(k)
}

// Read returns the cookie's value, or "" when the request has none.
func (ck Cookie) Read(c echo.Context) string {
	k, err := c.Cookie(ck.name)
	if err != nil {
		return ""
	}
	return k.Value
}
