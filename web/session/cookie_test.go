package session

import (
	"net/http"
	"net/http/httptest"
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
