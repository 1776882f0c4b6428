package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/templates/layout"
)

// stylesheets are linked from every page, in this order (app.css overrides
// Pico, so it comes last).
func stylesheets() []string {
	return []string{"vendor/pico.min.css", "app.css", "audit.css"}
}

// scripts are loaded, deferred, by every page.
func scripts() []string {
	return []string{"copy.js", "passkey.js"}
}

// favicon is linked from every page.
const favicon = "favicon.svg"

// Cache policies for static files. A URL carrying the file's current content
// hash (?v=...) can never change meaning, so browsers may keep it for a
// year without asking again; any other URL must be revalidated (cheap, with
// the ETag) so a new release is picked up at once.
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
	assetURLPrefix  = "/static/"
	assetHashLen    = 16 // hex characters of SHA-256 kept in URLs and ETags
)

// asset is one embedded file, kept in memory (the whole tree is ~100 KB).
type asset struct {
	data []byte
	hash string
}

// assets serves the embedded static tree and knows each file's fingerprint.
// Only files present in the tree at start-up can be served, so no request
// path can reach anything else.
type assets struct {
	files map[string]asset
}

// loadAssets reads every file in fsys and fingerprints it. It fails if a
// file the layout links is missing, so a broken embed pattern stops
// the server at start-up instead of shipping unstyled pages.
func loadAssets(fsys fs.FS) (*assets, error) {
	a := &assets{files: map[string]asset{}}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		a.files[name] = asset{data: data, hash: hex.EncodeToString(sum[:])[:assetHashLen]}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load static assets: %w", err)
	}
	for _, name := range append(append(stylesheets(), scripts()...), favicon) {
		if _, ok := a.files[name]; !ok {
			return nil, fmt.Errorf("load static assets: %s is not embedded", name)
		}
	}
	return a, nil
}

// url returns the fingerprinted URL of name, e.g. /static/app.css?v=1a2b....
func (a *assets) url(name string) string {
	f, ok := a.files[name]
	if !ok {
		return assetURLPrefix + name
	}
	return assetURLPrefix + name + "?v=" + f.hash
}

// chrome is the per-page frame data that depends only on the build.
func (a *assets) chrome(version string) layout.Chrome {
	c := layout.Chrome{Version: version, Icon: a.url(favicon)}
	for _, name := range stylesheets() {
		c.Stylesheets = append(c.Stylesheets, a.url(name))
	}
	for _, name := range scripts() {
		c.Scripts = append(c.Scripts, a.url(name))
	}
	return c
}

// serve handles GET /static/*. http.ServeContent supplies Content-Type from
// the extension, Range support and 304s for a matching If-None-Match.
func (a *assets) serve(c echo.Context) error {
	name, err := url.PathUnescape(c.Param("*"))
	if err != nil {
		return echo.ErrNotFound
	}
	f, ok := a.files[name]
	if !ok {
		return echo.ErrNotFound
	}
	h := c.Response().Header()
	h.Set("ETag", `"`+f.hash+`"`)
	if c.QueryParam("v") == f.hash {
		h.Set("Cache-Control", cacheImmutable)
	} else {
		h.Set("Cache-Control", cacheRevalidate)
	}
	http.ServeContent(c.Response(), c.Request(), name, time.Time{}, bytes.NewReader(f.data))
	return nil
}

// withChrome puts the page frame data into each request's context, where
// the layout template reads it. Error pages rendered later in the chain get
// it too.
func withChrome(chrome layout.Chrome) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			c.SetRequest(req.WithContext(layout.WithChrome(req.Context(), chrome)))
			return next(c)
		}
	}
}
