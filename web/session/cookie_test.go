package session

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestCookieNameAndFlags(t *testing.T) {
	for tls, name := range map[bool]string{true: CookieNameHTTPS, false: CookieNameHTTP} {
		ck := NewCookie(tls)
		if ck.Name() != name {
			t.Errorf("tls=%v: name %q, want %q", tls, ck.Name(), name)
		}
		e := echo.New()
		rec := httptest.NewRecorder()
		c := e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec)
		ck.Write(c, "value")
		res := rec.Result()
		cookies := res.Cookies()
		if len(cookies) != 1 {
			t.Fatalf("%d cookies", len(cookies))
		}
		k := cookies[0]
		if k.Name != name || k.Value != "value" || !k.Secure || !k.HttpOnly || k.SameSite != http.SameSiteLaxMode || k.Path != "/" || k.Domain != "" || k.MaxAge != 0 {
			t.Errorf("cookie = %+v", k)
		}
	}
}

// TestCookieFollowsThePublicURL: Secure follows public_url's scheme, and a
// plain-http portal on a loopback address keeps the flag (browsers accept
// it there); only plain http elsewhere goes without, or nobody could sign
// in.
func TestCookieFollowsThePublicURL(t *testing.T) {
	for raw, want := range map[string]struct {
		name   string
		secure bool
	}{
		"https://cs.example.com":  {CookieNameHTTPS, true},
		"http://127.0.0.1:8080":   {CookieNameHTTP, true},
		"http://[::1]:8080":       {CookieNameHTTP, true},
		"http://localhost:8080":   {CookieNameHTTP, true},
		"http://cs.internal:8080": {CookieNameHTTP, false},
		"http://10.0.0.7":         {CookieNameHTTP, false},
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		ck := CookieFor(u, false)
		if ck.Name() != want.name || ck.Secure() != want.secure {
			t.Errorf("%s: %q secure=%v, want %q secure=%v", raw, ck.Name(), ck.Secure(), want.name, want.secure)
		}
		rec := httptest.NewRecorder()
		ck.Write(echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec), "v")
		if got := rec.Result().Cookies(); len(got) != 1 || got[0].Secure != want.secure {
			t.Errorf("%s: written %+v", raw, got)
		}
	}
	if ck := CookieFor(&url.URL{Scheme: "http", Host: "cs.internal"}, true); !ck.Secure() || ck.Name() != CookieNameHTTPS {
		t.Errorf("a portal serving TLS itself: %+v", ck)
	}
}
