package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/templates/pages"
)

// Home serves the landing page for visitors who arrive without a deep link.
type Home struct {
	signInURL string
}

// NewHome returns the landing page handler. signInURL is the portal's login
// entry point; pass "" while login does not exist yet and the page says so
// instead of linking nowhere.
func NewHome(signInURL string) *Home {
	return &Home{signInURL: signInURL}
}

// Show serves GET /.
func (h *Home) Show(c echo.Context) error {
	return Render(c, http.StatusOK, pages.Home(pages.HomeView{SignInURL: h.signInURL}))
}
