package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
)

// tooLarge reports whether reading a request body failed because it was
// over a limit: the handler's own (http.MaxBytesReader) or the server's
// (echo's body limit, which for a chunked body without a length can only
// refuse while it is read). Either way the answer is 413, not 400.
func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe) || errors.Is(err, echo.ErrStatusRequestEntityTooLarge)
}
