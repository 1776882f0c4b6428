package demoidptest

import (
	"context"
	"testing"
)

// NewTestBrowser is NewBrowser for a test: it fails t if the browser
// cannot be made.
func NewTestBrowser(t testing.TB, issuer string) *Browser {
	t.Helper()
	b, err := NewBrowser(issuer)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// MustGet is Get for a test: it fails t if the request fails.
func (b *Browser) MustGet(t testing.TB, rawURL string) *Page {
	t.Helper()
	page, err := b.Get(context.Background(), rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return page
}

// MustSubmit is Submit for a test: it fails t if the request fails.
func (b *Browser) MustSubmit(t testing.TB, f Form, set map[string]string, button string) *Page {
	t.Helper()
	page, err := b.Submit(context.Background(), f, set, button)
	if err != nil {
		t.Fatal(err)
	}
	return page
}
