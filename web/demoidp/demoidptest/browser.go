package demoidptest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
)

// maxHops bounds redirect chains and login steps, so a broken provider
// fails a test instead of hanging it.
const maxHops = 10

// Browser is a cookie-keeping HTTP client that follows redirects only
// while they stay inside the identity provider, and stops at the first one
// that leaves it (the redirect to the relying party's callback).
type Browser struct {
	client *http.Client
	issuer *url.URL
}

// NewBrowser returns a browser for the provider at issuer with an empty
// cookie jar (a fresh browser profile).
func NewBrowser(issuer string) (*Browser, error) {
	u, err := url.Parse(strings.TrimSuffix(issuer, "/"))
	if err != nil {
		return nil, fmt.Errorf("demoidptest: parse issuer: %w", err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, fmt.Errorf("demoidptest: cookie jar: %w", err)
	}
	return &Browser{
		issuer: u,
		client: &http.Client{
			Jar: jar,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}, nil
}

// Client is the browser's HTTP client (cookies, no automatic redirects),
// for tests that need a raw request with the browser's cookies.
func (b *Browser) Client() *http.Client { return b.client }

// Page is what the browser ended on: an HTML page of the provider, or a
// redirect out of it.
type Page struct {
	// URL is the page's address (or of the response that redirected
	// out).
	URL *url.URL
	// Status is the HTTP status of the last response.
	Status int
	// Body is the HTML (empty for a redirect out).
	Body string
	// Forms are the page's forms.
	Forms []Form
	// Redirect is where the provider sent the browser outside itself,
	// typically the relying party's redirect_uri with code and state;
	// nil when the browser is still on a provider page.
	Redirect *url.URL
}

// Form returns the form with the given data-testid.
func (p *Page) Form(testID string) (Form, bool) {
	for _, f := range p.Forms {
		if f.TestID == testID {
			return f, true
		}
	}
	return Form{}, false
}

// TestIDText returns the text of the first element with the data-testid,
// for asserting on error messages and notices.
func (p *Page) TestIDText(testID string) (string, bool) {
	return textByTestID(p.Body, testID)
}

// Get opens a URL, following redirects inside the provider.
func (b *Browser) Get(ctx context.Context, rawURL string) (*Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("demoidptest: build request: %w", err)
	}
	return b.do(req)
}

// Submit posts a form with its own fields, the values in set overriding
// them, and the pressed button's name and value; button names the button
// by its value or data-testid, or is empty to submit without one.
func (b *Browser) Submit(ctx context.Context, f Form, set map[string]string, button string) (*Page, error) {
	values := url.Values{}
	for k, v := range f.Fields {
		values[k] = append([]string(nil), v...)
	}
	for k, v := range set {
		values.Set(k, v)
	}
	if button != "" {
		found := false
		for _, btn := range f.Buttons {
			if btn.Value == button || btn.TestID == button {
				if btn.Name != "" {
					values.Set(btn.Name, btn.Value)
				}
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("demoidptest: form %q has no button %q", f.TestID, button)
		}
	}
	req, err := http.NewRequestWithContext(ctx, strings.ToUpper(f.Method), f.Action.String(), strings.NewReader(values.Encode()))
	if err != nil {
		return nil, fmt.Errorf("demoidptest: build form request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// inside says whether u belongs to the provider (same origin, under the
// issuer path).
func (b *Browser) inside(u *url.URL) bool {
	if u.Scheme != b.issuer.Scheme || u.Host != b.issuer.Host {
		return false
	}
	return b.issuer.Path == "" || u.Path == b.issuer.Path || strings.HasPrefix(u.Path, b.issuer.Path+"/")
}

func (b *Browser) do(req *http.Request) (*Page, error) {
	for hop := 0; hop < maxHops; hop++ {
		resp, err := b.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("demoidptest: %s %s: %w", req.Method, req.URL.Path, err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("demoidptest: read %s: %w", req.URL.Path, err)
		}
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode > 399 || loc == "" {
			forms, err := parseForms(string(body), req.URL)
			if err != nil {
				return nil, err
			}
			return &Page{URL: req.URL, Status: resp.StatusCode, Body: string(body), Forms: forms}, nil
		}
		next, err := req.URL.Parse(loc)
		if err != nil {
			return nil, fmt.Errorf("demoidptest: bad redirect: %w", err)
		}
		if !b.inside(next) {
			return &Page{URL: req.URL, Status: resp.StatusCode, Redirect: next}, nil
		}
		req, err = http.NewRequestWithContext(req.Context(), http.MethodGet, next.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("demoidptest: build redirect request: %w", err)
		}
	}
	return nil, errors.New("demoidptest: too many redirects")
}
