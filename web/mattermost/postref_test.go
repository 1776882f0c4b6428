package mattermost

import (
	"errors"
	"testing"

	"github.com/countersign/countersign/models"
)

func TestParsePostRef(t *testing.T) {
	const id = "bwhaznx8ujbmfdw1xpbpz5sezw"
	cases := []struct {
		site, in string
		ok       bool
	}{
		{"https://chat.example.com", id, true},
		{"https://chat.example.com", "  " + id + "\n", true},
		{"https://chat.example.com", "https://chat.example.com/testteam/pl/" + id, true},
		{"https://chat.example.com", "https://CHAT.example.com/testteam/pl/" + id + "/", true},
		{"https://chat.example.com", "<https://chat.example.com/testteam/pl/" + id + ">", true},
		{"https://chat.example.com", "https://chat.example.com:443/testteam/pl/" + id, true},
		{"https://chat.example.com/", "https://chat.example.com/testteam/pl/" + id, true},
		{"https://chat.example.com/mm", "https://chat.example.com/mm/testteam/pl/" + id, true},
		{"http://127.0.0.1:8065", "http://127.0.0.1:8065/testteam/pl/" + id, true},

		{"https://chat.example.com/mm", "https://chat.example.com/testteam/pl/" + id, false},
		{"https://chat.example.com", "https://evil.example/testteam/pl/" + id, false},
		{"https://chat.example.com", "https://chat.example.com.evil.example/testteam/pl/" + id, false},
		{"https://chat.example.com", "https://chat.example.com@evil.example/testteam/pl/" + id, false},
		{"https://chat.example.com", "https://someone@chat.example.com/testteam/pl/" + id, false},
		{"https://chat.example.com", "http://chat.example.com/testteam/pl/" + id, false},
		{"https://chat.example.com", "https://chat.example.com:8443/testteam/pl/" + id, false},
		{"https://chat.example.com", "/testteam/pl/" + id, false},
		{"https://chat.example.com", "https://chat.example.com/testteam/channels/town-square", false},
		{"https://chat.example.com", "https://chat.example.com/testteam/pl/short", false},
		{"https://chat.example.com", "https://chat.example.com/testteam/pl/" + id + "/extra", false},
		{"https://chat.example.com", "https://chat.example.com/Bad Team/pl/" + id, false},
		{"https://chat.example.com", "BWHAZNX8UJBMFDW1XPBPZ5SEZW", false},
		{"https://chat.example.com", id + "x", false},
		{"https://chat.example.com", "", false},
		{"https://chat.example.com", "hello world", false},
		{"https://chat.example.com", "javascript:alert(1)", false},
		{"https://chat.example.com", "ｂwhaznx8ujbmfdw1xpbpz5sez", false},
	}
	for _, c := range cases {
		got, err := ParsePostRef(c.site, c.in)
		if c.ok && (err != nil || got != id) {
			t.Errorf("ParsePostRef(%q, %q) = %q, %v; want %s", c.site, c.in, got, err, id)
		}
		if !c.ok && (err == nil || !errors.Is(err, models.ErrInvalid)) {
			t.Errorf("ParsePostRef(%q, %q) = %q, %v; want ErrInvalid", c.site, c.in, got, err)
		}
	}
}

func TestLinks(t *testing.T) {
	if got := Permalink("https://chat.example.com/", "testteam", "bwhaznx8ujbmfdw1xpbpz5sezw"); got != "https://chat.example.com/testteam/pl/bwhaznx8ujbmfdw1xpbpz5sezw" {
		t.Errorf("permalink %s", got)
	}
	if got := ChannelLink("https://chat.example.com", "testteam", "fixture-chan"); got != "https://chat.example.com/testteam/channels/fixture-chan" {
		t.Errorf("channel link %s", got)
	}
	link := Permalink("https://chat.example.com/mm", "testteam", "bwhaznx8ujbmfdw1xpbpz5sezw")
	if id, err := ParsePostRef("https://chat.example.com/mm", link); err != nil || id != "bwhaznx8ujbmfdw1xpbpz5sezw" {
		t.Errorf("a permalink we build must parse back: %q %v", id, err)
	}
}
