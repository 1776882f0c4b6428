package mattermost

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models"
)

// isPostID reports whether s looks like a Mattermost id: 26 characters of
// lower-case base32 (letters and digits).
func isPostID(s string) bool {
	if len(s) != 26 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// ParsePostRef turns what a requester typed to name a thread into a post
// id. It accepts a bare 26-character id, or a permalink
// {siteURL}/{team}/pl/{post_id} of this site only (same scheme, host, port
// and path prefix; Markdown's <…> around it is fine). Links to any other
// host are refused: a link is what approvers later click, so it must lead
// to the very site the conversation was read from, not to a look-alike
// that merely carries a real post id. Errors match models.ErrInvalid.
func ParsePostRef(siteURL, s string) (string, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
	if isPostID(s) {
		return s, nil
	}
	site, err := parseSiteURL(siteURL)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", models.Invalid("post", "must be a post id or a permalink of this Mattermost")
	}
	if u.Scheme != site.Scheme || !sameHost(u, site) || u.User != nil {
		return "", models.Invalid("post", fmt.Sprintf("permalink must be on %s", site.String()))
	}
	rest, ok := strings.CutPrefix(u.Path, site.Path+"/")
	if !ok {
		return "", models.Invalid("post", fmt.Sprintf("permalink must be on %s", site.String()))
	}
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	if len(parts) != 3 || parts[1] != "pl" || !model.IsValidTeamName(parts[0]) || !isPostID(parts[2]) {
		return "", models.Invalid("post", "permalink must look like "+site.String()+"/{team}/pl/{post_id}")
	}
	return parts[2], nil
}

// sameHost compares hosts case-insensitively, treating an omitted port as
// the scheme's default.
func sameHost(a, b *url.URL) bool {
	return strings.EqualFold(a.Hostname(), b.Hostname()) && portOf(a) == portOf(b)
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// Permalink is the link Mattermost shows for a post:
// {siteURL}/{team}/pl/{post_id}, with the site URL as the client reads it.
func Permalink(siteURL, teamName, postID string) string {
	return siteBase(siteURL) + "/" + url.PathEscape(teamName) + "/pl/" + url.PathEscape(postID)
}

// ChannelLink is the link to a channel:
// {siteURL}/{team}/channels/{channel_name}.
func ChannelLink(siteURL, teamName, channelName string) string {
	return siteBase(siteURL) + "/" + url.PathEscape(teamName) + "/channels/" + url.PathEscape(channelName)
}

// siteBase is the site URL links start with, as parseSiteURL reads it
// (trimmed, without a trailing slash, even an escaped one), so that
// ParsePostRef reads every link built on it back.
func siteBase(siteURL string) string {
	if u, err := parseSiteURL(siteURL); err == nil {
		return u.String()
	}
	return strings.TrimRight(strings.TrimSpace(siteURL), "/")
}
