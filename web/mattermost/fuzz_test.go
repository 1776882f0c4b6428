package mattermost

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
)

// FuzzParsePostRef feeds ParsePostRef what a requester types after
// thread=, against a site URL. What it accepts must be a post id, typed
// bare or in a link to that very site (scheme, host, port and path
// prefix); what it refuses is a validation error (or a configuration
// error for a bad site URL). A permalink built by Permalink for the site
// must parse back to its post id.
func FuzzParsePostRef(f *testing.F) {
	const id = "bwhaznx8ujbmfdw1xpbpz5sezw"
	for _, c := range [][2]string{
		{"https://chat.example.com", id},
		{"https://chat.example.com", "https://chat.example.com/testteam/pl/" + id},
		{"https://chat.example.com/", "<https://CHAT.example.com:443/testteam/pl/" + id + "/>"},
		{"https://chat.example.com/mm", "https://chat.example.com/mm/testteam/pl/" + id},
		{"http://127.0.0.1:8065", "http://127.0.0.1:8065/testteam/pl/" + id},
		{"https://chat.example.com", "https://chat.example.com@evil.example/testteam/pl/" + id},
		{"https://chat.example.com", "https://chat.example.com.evil.example/testteam/pl/" + id},
		{"https://chat.example.com", "https://chat.example.com/testteam/channels/town-square"},
		{"https://chat.example.com/m%20m", "https://chat.example.com/m%20m/testteam/pl/" + id},
		{"https://[::1]:8065", "https://[::1]:8065/testteam/pl/" + id},
		{"ftp://chat.example.com", id},
		{"https://chat.example.com", "javascript:alert(1)"},
	} {
		f.Add(c[0], c[1], "testteam", id)
	}
	f.Fuzz(func(t *testing.T, siteURL, ref, team, postID string) {
		got, err := ParsePostRef(siteURL, ref)
		site, siteErr := parseSiteURL(siteURL)
		switch {
		case err != nil:
			if !errors.Is(err, models.ErrInvalid) && !(siteErr != nil && errors.Is(err, ErrConfig)) {
				t.Fatalf("ParsePostRef(%q, %q): %v is neither invalid input nor a bad site URL", siteURL, ref, err)
			}
		case !isPostID(got):
			t.Fatalf("ParsePostRef(%q, %q) = %q, not a post id", siteURL, ref, got)
		case got != strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(ref), "<"), ">"):
			// A link: it must lead to the site itself.
			if siteErr != nil {
				t.Fatalf("ParsePostRef(%q, %q) = %q with a bad site URL", siteURL, ref, got)
			}
			checkOnSite(t, site, ref, got)
		}

		if siteErr != nil || !model.IsValidTeamName(team) || !isPostID(postID) {
			return
		}
		link := Permalink(siteURL, team, postID)
		for _, typed := range []string{link, "<" + link + ">", " " + link + "\n"} {
			if back, err := ParsePostRef(siteURL, typed); err != nil || back != postID {
				t.Fatalf("Permalink(%q, %q, %q) = %q, which parses to %q, %v", siteURL, team, postID, typed, back, err)
			}
		}
	})
}

// checkOnSite checks, without ParsePostRef's helpers, that the link ref
// names post id on site.
func checkOnSite(t *testing.T, site *url.URL, ref, id string) {
	t.Helper()
	u, err := url.Parse(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(ref), "<"), ">"))
	if err != nil {
		t.Fatalf("accepted %q, which does not parse: %v", ref, err)
	}
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		return map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if u.Scheme != site.Scheme || strings.ToLower(u.Hostname()) != strings.ToLower(site.Hostname()) || port(u) != port(site) || u.User != nil {
		t.Fatalf("accepted %q, a link off the site %s", ref, site)
	}
	if want := site.Path + "/"; !strings.HasPrefix(u.Path, want) || !strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/pl/"+id) {
		t.Fatalf("accepted %q: path %q is not %s{team}/pl/%s", ref, u.Path, want, id)
	}
}
