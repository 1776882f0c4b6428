// Package pages holds one templ page per route. Each page takes a small,
// typed view model defined here, never a gorm model, so templates cannot
// reach data the handler did not choose to show.
package pages

// HomeView is the landing page's data.
type HomeView struct {
	// SignInURL is where the sign-in link points. It stays empty until the
	// portal's OIDC login exists; the page then says sign-in comes with the
	// portal instead of showing a link that leads nowhere.
	SignInURL string
}

// ErrorView is what an error page may show: only text chosen for the user,
// never the internal error, plus the request id so the user can quote it to
// an operator who then finds the real error in the logs.
type ErrorView struct {
	// Status is the HTTP status code.
	Status int
	// Title is a short heading, e.g. "Not found".
	Title string
	// Message is one or two sentences telling the user what happened and
	// what they can do.
	Message string
	// NextStep says what to do from here; empty for nothing beyond the
	// navigation.
	NextStep string
	// RequestID identifies the failed HTTP request in the server logs; the
	// page calls it an error reference so it is not taken for a REQ- id.
	RequestID string
}
