package handlers

import "testing"

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                            "/",
		"/":                           "/",
		"/requests/REQ-1":             "/requests/REQ-1",
		"/requests?state=pending&p=2": "/requests?state=pending&p=2",
		"/requests/REQ-1#decide":      "/requests/REQ-1#decide",
		"//evil.com":                  "/",
		"//evil.com/requests":         "/",
		"/\\evil.com":                 "/",
		"/\\/evil.com":                "/",
		"/requests\\..\\x":            "/",
		"https://evil.com":            "/",
		"http://127.0.0.1:8080/":      "/",
		"javascript:alert(1)":         "/",
		"JavaScript:alert(1)":         "/",
		"data:text/html,x":            "/",
		"evil.com":                    "/",
		"requests/REQ-1":              "/",
		" /requests":                  "/",
		"/requests\r\nSet-Cookie: x":  "/",
		"/requests\tx":                "/",
		"/\x7f":                       "/",
		"/login":                      "/",
		"/login?next=/x":              "/",
		"/logout":                     "/",
		"/auth/callback?code=x":       "/",
		"/loginpage":                  "/loginpage",
		"/%2F%2Fevil.com":             "/%2F%2Fevil.com",
	} {
		if got := SafeNext(in); got != want {
			t.Errorf("SafeNext(%q) = %q, want %q", in, got, want)
		}
	}
	long := "/" + string(make([]byte, maxNextLen))
	if SafeNext(long) != "/" {
		t.Error("an overlong next is kept")
	}
}
