// Package static holds the portal's CSS (and, later, its few scripts and
// icons), embedded into the binary so that one file is all an operator runs
// and what the browser gets always matches the server's templates.
//
// Nothing here is inline in the pages: the Content-Security-Policy forbids
// inline scripts and styles, so every style the portal uses lives in these
// files and is served from /static/ by package handlers.
package static

import "embed"

// FS is the embedded asset tree, rooted at this folder (app.css,
// vendor/pico.min.css, ...). It is a package variable only because go:embed
// requires one; treat it as read-only. Add new asset files to the pattern.
//
//go:embed app.css audit.css copy.js passkey.js favicon.svg vendor
var FS embed.FS
