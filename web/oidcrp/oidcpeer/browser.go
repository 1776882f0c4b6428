package oidcpeer

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"github.com/countersign/countersign/web/oidcrp"
)

const maxRedirects = 20

// Browser is a user agent without JavaScript: an http.Client with a cookie
// jar that follows the provider's redirects and stops where a real browser
// would leave the provider for the relying party. Its jar holds the
// provider's session cookie, so several logins with one Browser are one
// person at one browser (single sign-on, step-up, logout).
type Browser struct {
	client *http.Client
}

// NewBrowser returns a browser with an empty cookie jar.
func NewBrowser() *Browser {
	jar, _ := cookiejar.New(nil) // New never fails without options
	return &Browser{client: &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // Visit follows them itself
		},
	}}
}

// Client is the browser's http.Client, with its cookie jar.
func (b *Browser) Client() *http.Client { return b.client }

// PageError is a page where the browser stopped without reaching the URL
// it was heading for: the provider showed an error or a form instead of
// redirecting.
type PageError struct {
	// URL is the page's address.
	URL string
	// Status is its HTTP status.
	Status int
	// Body is the start of its body.
	Body string
}

// Error implements error.
func (e *PageError) Error() string {
	return fmt.Sprintf("oidcpeer: stopped at %s with HTTP %d: %s", e.URL, e.Status, e.Body)
}

// Visit opens rawURL and follows redirects until one leads to stopAt
// (same scheme, host and path; the query may differ), and returns that
// URL without requesting it. Any other final page is a *PageError.
func (b *Browser) Visit(ctx context.Context, rawURL, stopAt string) (*url.URL, error) {
	stop, err := url.Parse(stopAt)
	if err != nil {
		return nil, fmt.Errorf("oidcpeer: stop URL: %w", err)
	}
	next, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("oidcpeer: start URL: %w", err)
	}
	for range maxRedirects {
		if sameEndpoint(next, stop) {
			return next, nil
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next.String(), nil)
		if err != nil {
			return nil, err
		}
		resp, err := b.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("oidcpeer: GET %s: %w", next.Redacted(), err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode > 399 || loc == "" {
			return nil, &PageError{URL: next.Redacted(), Status: resp.StatusCode, Body: strings.TrimSpace(string(body))}
		}
		if next, err = next.Parse(loc); err != nil {
			return nil, fmt.Errorf("oidcpeer: redirect to %q: %w", loc, err)
		}
	}
	return nil, fmt.Errorf("oidcpeer: more than %d redirects from %s", maxRedirects, rawURL)
}

func sameEndpoint(a, b *url.URL) bool {
	return a.Scheme == b.Scheme && a.Host == b.Host && a.Path == b.Path
}

// Authorize runs rp.Begin(opts) and follows the authorization request
// through the provider to the RP's redirect URI. It returns what the RP's
// callback would get: the pending login and the callback's query.
func (b *Browser) Authorize(ctx context.Context, rp *oidcrp.RP, opts oidcrp.AuthOptions) (oidcrp.Pending, url.Values, error) {
	authURL, pending, err := rp.Begin(opts)
	if err != nil {
		return oidcrp.Pending{}, nil, err
	}
	u, err := url.Parse(authURL)
	if err != nil {
		return oidcrp.Pending{}, nil, fmt.Errorf("oidcpeer: authorization URL: %w", err)
	}
	redirect := u.Query().Get("redirect_uri")
	if redirect == "" {
		return oidcrp.Pending{}, nil, fmt.Errorf("oidcpeer: authorization URL has no redirect_uri")
	}
	cb, err := b.Visit(ctx, authURL, redirect)
	if err != nil {
		return oidcrp.Pending{}, nil, err
	}
	return pending, cb.Query(), nil
}

// Login is a whole authorization-code round trip: rp.Begin, the provider
// (whose login is what Peer.NextLogin set), and rp.Complete with the
// callback's query. A refusal by the RP is returned as Complete's error.
func (b *Browser) Login(ctx context.Context, rp *oidcrp.RP, opts oidcrp.AuthOptions) (*oidcrp.Identity, error) {
	pending, query, err := b.Authorize(ctx, rp, opts)
	if err != nil {
		return nil, err
	}
	return rp.Complete(ctx, pending, query)
}
