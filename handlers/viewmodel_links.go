package handlers

import "net/url"

// requestPath is the portal path of a request page.
func requestPath(id string) string { return "/requests/" + url.PathEscape(id) }

// decisionPath is where the decision forms of a request POST.
func decisionPath(id string) string { return requestPath(id) + "/decision" }

// shareURL is the absolute link to a request page, for pasting into chat;
// "" when the portal's public URL is not configured.
func (h *Requests) shareURL(id string) string {
	if h.publicURL == "" {
		return ""
	}
	return h.publicURL + requestPath(id)
}

// channelURL links a Mattermost channel: {site}/{team}/channels/{channel}.
func (h *Requests) channelURL(team, channel string) string {
	if h.mmURL == "" || team == "" || channel == "" {
		return ""
	}
	return h.mmURL + "/" + url.PathEscape(team) + "/channels/" + url.PathEscape(channel)
}

// permalink links a Mattermost post: {site}/{team}/pl/{post_id}.
func (h *Requests) permalink(team, postID string) string {
	if h.mmURL == "" || team == "" || postID == "" {
		return ""
	}
	return h.mmURL + "/" + url.PathEscape(team) + "/pl/" + url.PathEscape(postID)
}
