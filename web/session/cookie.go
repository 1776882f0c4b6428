package session

import (
	"net"
	"net/http"
	"net/url"
	"strings"

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
	name   string
	secure bool
}

// NewCookie returns the cookie settings for a portal served over https
// (tls true) or plain http on a loopback address.
func NewCookie(tls bool) Cookie {
	if tls {
		return Cookie{name: CookieNameHTTPS, secure: true}
	}
	return Cookie{name: CookieNameHTTP, secure: true}
}

// CookieFor returns the cookie settings for a portal people reach at
// public (tls: the portal itself serves https). Secure follows the scheme:
// https, and plain http on a loopback address (where browsers accept
// Secure cookies), get a Secure cookie; plain http elsewhere gets one
// without the flag, or no browser would send it back and nobody could
// sign in. Secure tells which, so the portal can warn.
func CookieFor(public *url.URL, tls bool) Cookie {
	if tls || public.Scheme == "https" {
		return NewCookie(true)
	}
	if isLoopback(public.Hostname()) {
		return NewCookie(false)
	}
	return Cookie{name: CookieNameHTTP}
}

// Secure reports whether the cookie carries the Secure flag.
func (ck Cookie) Secure() bool { return ck.secure }

// isLoopback reports whether host names this machine only.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Name is the cookie's name.
func (ck Cookie) Name() string { return ck.name }

// base has the attributes every write shares. Secure is set wherever the
// browser will send it back (see CookieFor). HttpOnly keeps scripts away
// from it; SameSite=Lax keeps it off
// cross-site POSTs while still sending it on the IdP's redirect back. No
// Expires: a browser-session cookie, the server enforces the timeouts.
func (ck Cookie) base(value string) *http.Cookie {
	return &http.Cookie{
		Name:     ck.name,
		Value:    value,
		Path:     "/",
		Secure:   ck.secure,
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
