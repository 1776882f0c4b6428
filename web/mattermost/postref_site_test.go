package mattermost

import (
	"errors"
	"testing"
)

// TestPermalinksOfOddSiteURLsParseBack: FuzzParsePostRef found that a site
// URL with trailing white space, which the client accepts (it trims it),
// gave permalinks with a space in their host that ParsePostRef refused.
// Checking the same property by hand, a trailing escaped slash ("%2F") did
// the same to the path.
func TestPermalinksOfOddSiteURLsParseBack(t *testing.T) {
	const id = "bwhaznx8ujbmfdw1xpbpz5sezw"
	for _, site := range []string{"http://0 ", " https://chat.example.com/\n", "https://chat.example.com/mm%2F", "https://chat.example.com/m%20m/"} {
		link := Permalink(site, "testteam", id)
		if got, err := ParsePostRef(site, link); err != nil || got != id {
			t.Errorf("Permalink(%q) = %q, which parses to %q, %v", site, link, got, err)
		}
	}
	if got := ChannelLink(" https://chat.example.com/ ", "testteam", "town-square"); got != "https://chat.example.com/testteam/channels/town-square" {
		t.Errorf("channel link %q", got)
	}
}

// TestSiteURLWithABareQueryOrFragmentIsRefused (found by hand beside the
// fuzzer's finding above): "https://x?" and "https://x#" have an empty
// query and fragment to net/url, yet every link built on them would end at
// the "?" or "#".
func TestSiteURLWithABareQueryOrFragmentIsRefused(t *testing.T) {
	for _, site := range []string{"https://chat.example.com?", "https://chat.example.com/#", "https://chat.example.com?x=1"} {
		if _, err := parseSiteURL(site); !errors.Is(err, ErrConfig) {
			t.Errorf("parseSiteURL(%q) = %v, want a configuration error", site, err)
		}
	}
}
