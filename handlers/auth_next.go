package handlers

import (
	"net/url"
	"strings"
)

// maxNextLen bounds the return path kept through a sign-in.
const maxNextLen = 2048

// SafeNext returns next if it is a path on this portal, else "/". Only a
// same-origin absolute path passes: it must start with exactly one "/"
// (not "//" or "/\", which browsers read as another host), carry no
// scheme, host, backslash or control character, and not lead back into
// the sign-in itself. This is what keeps /login?next=… from becoming an
// open redirect.
func SafeNext(next string) string {
	if next == "" || len(next) > maxNextLen || next[0] != '/' {
		return "/"
	}
	if strings.HasPrefix(next, "//") || strings.ContainsRune(next, '\\') {
		return "/"
	}
	for _, r := range next {
		if r < 0x20 || r == 0x7f {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") {
		return "/"
	}
	// A path that decodes to //host stays a path for browsers and is
	// harmless; a redirect back into the sign-in would only loop.
	for _, p := range []string{"/login", "/logout", "/auth"} {
		if u.Path == p || strings.HasPrefix(u.Path, p+"/") {
			return "/"
		}
	}
	return next
}
