package handlers

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
)

// apiError is the JSON error body of the agent API: a sentence for the
// developer and, for bad input, the field it concerns.
type apiError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
	// Reason is a stable code for refusals the caller may act on (a
	// grant's refusal reason, "not_redeemed", "already_reported"…).
	Reason string `json:"reason,omitempty"`
}

// apiFail answers with status and a JSON error.
func apiFail(c echo.Context, status int, field, msg string) error {
	if status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="countersign"`)
	}
	return c.JSON(status, apiError{Error: msg, Field: field})
}

// apiInvalid answers 422 for a validation error, naming its field.
func apiInvalid(c echo.Context, err error) error {
	var ve *models.ValidationError
	if errors.As(err, &ve) {
		return apiFail(c, http.StatusUnprocessableEntity, ve.Field, ve.Field+": "+strings.TrimSuffix(ve.Reason, "."))
	}
	return apiFail(c, http.StatusUnprocessableEntity, "", "invalid input")
}
