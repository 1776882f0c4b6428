// Package handlers is the portal's HTTP layer: the echo server with its
// middleware and single error handler (server.go), the one route table
// (routes.go), and the handlers, one struct per area. Handlers stay thin:
// they bind input into a small form, make one or two calls into the domain
// (models/...), and render a view model; errors go back to the error
// handler, which maps the domain's sentinel errors to status codes in one
// place. The package sits above the adapters in web/... (sign-in,
// sessions, Mattermost) and the domain; nothing below imports it.
package handlers
