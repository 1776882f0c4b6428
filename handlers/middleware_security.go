package handlers

import (
	"strings"

	"github.com/labstack/echo/v4"
)

// contentSecurityPolicy allows only the portal's own scripts, styles and
// images (plus data: images, which Pico uses for form icons). No inline
// script or style may run, so an injected <script> or style= does nothing;
// the portal cannot be framed (clickjacking an Approve button) and forms
// post only to the portal.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; " +
	"frame-ancestors 'none'"

// policyWithFormTargets returns contentSecurityPolicy with extra origins
// allowed in form-action. Browsers apply form-action to the redirects that
// follow a form post too, so the Approve button (answered with a redirect
// to the IdP for step-up) and Sign out (to the IdP's logout) need the IdP's
// origin there; nothing else is widened.
func policyWithFormTargets(origins []string) string {
	if len(origins) == 0 {
		return contentSecurityPolicy
	}
	return strings.Replace(contentSecurityPolicy, "form-action 'self'", "form-action 'self' "+strings.Join(origins, " "), 1)
}

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
//
// csp returns the Content-Security-Policy; it is asked per response
// because the identity provider's origins (allowed form targets) are known
// only once the provider has answered discovery.
func securityHeaders(tls bool, csp func() string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Content-Security-Policy", csp())
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
