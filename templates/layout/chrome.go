// Package layout is the frame every portal page sits in: document head,
// header, main area and footer.
package layout

import "context"

// Chrome is what the frame shows that no single page owns: the build version
// in the footer and the stylesheet URLs (fingerprinted by package handlers so they
// can be cached for a long time). The web layer puts it in each request's
// context once, so handlers and page view models do not have to carry it;
// later additions (signed-in user, CSRF token) belong here too.
type Chrome struct {
	// Version is the running build, shown in the footer so a screenshot or a
	// bug report says which release it came from.
	Version string
	// Stylesheets are the CSS URLs to link, in order.
	Stylesheets []string
	// Scripts are the script URLs every page loads (deferred): small
	// progressive helpers such as the copy buttons, never required to read
	// or act on a page.
	Scripts []string
	// Icon is the favicon URL; linking it spares every page view a 404 for
	// /favicon.ico.
	Icon string
}

// DefaultStylesheets are the unfingerprinted stylesheet URLs, used when no
// Chrome was set (component tests, or a page rendered outside a request).
func DefaultStylesheets() []string {
	return []string{"/static/vendor/pico.min.css", "/static/app.css", "/static/audit.css"}
}

// DefaultScripts are the unfingerprinted script URLs, used like
// DefaultStylesheets.
func DefaultScripts() []string {
	return []string{"/static/copy.js", "/static/passkey.js"}
}

// DefaultIcon is the unfingerprinted favicon URL, used like DefaultStylesheets.
const DefaultIcon = "/static/favicon.svg"

type chromeKey struct{}

// WithChrome returns a context that carries c for the layout to read.
func WithChrome(ctx context.Context, c Chrome) context.Context {
	return context.WithValue(ctx, chromeKey{}, c)
}

// ChromeFrom returns the Chrome stored by WithChrome, or a usable default
// (no version, unfingerprinted stylesheets and icon) so a page never renders unstyled.
func ChromeFrom(ctx context.Context) Chrome {
	c, ok := ctx.Value(chromeKey{}).(Chrome)
	if !ok {
		c = Chrome{}
	}
	if len(c.Stylesheets) == 0 {
		c.Stylesheets = DefaultStylesheets()
	}
	if len(c.Scripts) == 0 {
		c.Scripts = DefaultScripts()
	}
	if c.Icon == "" {
		c.Icon = DefaultIcon
	}
	return c
}
