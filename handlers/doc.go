// Package handlers holds the portal's HTTP handlers: one struct per area,
// built by a constructor that takes the small interfaces the area needs.
// Handlers stay thin (bind input, call one domain method, render); routes are
// registered in package web, and errors are returned to web's single error
// handler rather than written here.
package handlers
