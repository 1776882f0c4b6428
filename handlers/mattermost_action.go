package handlers

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/web/mattermost/notify"
)

// maxActionBody bounds a button request; Mattermost's are a few hundred
// bytes.
const maxActionBody = 64 << 10

// MattermostActions serves POST /hooks/mattermost/action, where Mattermost
// sends clicks on the buttons of Countersign's messages. The request
// carries no credential: the signed context, the post id and the clicker
// are checked by the *notify.Actions.
type MattermostActions struct {
	h *notify.Actions
}

// NewMattermostActions returns the button endpoint.
func NewMattermostActions(h *notify.Actions) *MattermostActions { return &MattermostActions{h: h} }

// Action decodes the click and answers with Mattermost's integration
// response (an ephemeral text and, on success, the updated post).
func (m *MattermostActions) Action(c echo.Context) error {
	var in model.PostActionIntegrationRequest
	dec := json.NewDecoder(io.LimitReader(c.Request().Body, maxActionBody))
	if err := dec.Decode(&in); err != nil {
		return c.JSON(http.StatusBadRequest, &model.PostActionIntegrationResponse{EphemeralText: "Countersign could not read this button request."})
	}
	return c.JSON(http.StatusOK, m.h.Handle(c.Request().Context(), &in))
}
