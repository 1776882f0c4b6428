package web

import "github.com/labstack/echo/v4"

// contentSecurityPolicy allows only the portal's own scripts, styles and
// images (plus data: images, which Pico uses for form icons). No inline
// script or style may run, so an injected <script> or style= does nothing;
// the portal cannot be framed (clickjacking an Approve button) and forms
// post only to the portal.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; " +
	"frame-ancestors 'none'"

// permissionsPolicy turns off powerful browser features the portal never uses.
const permissionsPolicy = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), " +
	"serial=(), bluetooth=(), display-capture=()"

// hsts pins https for two years. Sent only when the portal is served over
// TLS: on plain http the header is meaningless at best.
const hsts = "max-age=63072000; includeSubDomains"

// securityHeaders sets the headers on the response before anything else
// runs, so every response carries them: pages, JSON, static files, error
// pages, 413s and recovered panics alike.
//
// Cache-Control defaults to no-store because portal pages show who asked
// for what and who approved it; a shared or back-button cache must not keep
// them. Static assets override it.
func securityHeaders(tls bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Content-Security-Policy", contentSecurityPolicy)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "same-origin")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			h.Set("Cross-Origin-Resource-Policy", "same-origin")
			h.Set("Permissions-Policy", permissionsPolicy)
			h.Set("Cache-Control", "no-store")
			if tls {
				h.Set("Strict-Transport-Security", hsts)
			}
			return next(c)
		}
	}
}
