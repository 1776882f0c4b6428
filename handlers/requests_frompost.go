package handlers

import (
	"fmt"
	"net/http"
	"regexp"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
)

// mattermostID is the shape of a Mattermost post id: 26 lower-case
// letters and digits.
var mattermostID = regexp.MustCompile(`^[a-z0-9]{26}$`)

// FromPost serves GET /mm/:post_id, the deep link from a Mattermost post to
// the request born from it (the post that triggered it, or the root of the
// thread it was captured from). Unknown, malformed and hidden all answer
// "not found".
func (h *Requests) FromPost(c echo.Context) error {
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	postID := c.Param("post_id")
	if !mattermostID.MatchString(postID) {
		return fmt.Errorf("deep link: post id %q: %w", postID, models.ErrNotFound)
	}
	r, err := h.svc.FindByPost(c.Request().Context(), postID)
	if err != nil {
		return fmt.Errorf("deep link: %w", err)
	}
	if !h.svc.MayView(r, u.Approver()) {
		return fmt.Errorf("deep link: %s hidden from %s: %w", r.ID, u.Subject, models.ErrNotFound)
	}
	return c.Redirect(http.StatusSeeOther, requestPath(r.ID))
}
