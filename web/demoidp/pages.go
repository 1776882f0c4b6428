package demoidp

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
)

// assets holds the templates and the stylesheet; an embed.FS is read-only,
// so this is no mutable package state.
//
//go:embed templates/*.html static/demoidp.css static/favicon.svg
var assets embed.FS

// pageData is the view model of every page; fields a page does not use
// stay empty.
type pageData struct {
	Title         string
	Prefix        string
	Issuer        string
	ClientID      string
	Notices       []string
	Error         string
	Message       string
	AuthRequestID string
	CSRF          string
	Username      string
	AllowSkip     bool
}

// pages holds the parsed templates, one set per page so each can define
// its own "content" block.
type pages struct {
	login, otp, message *template.Template
	stylesheet          []byte
	icon                []byte
}

func parsePages() (*pages, error) {
	parse := func(name string) (*template.Template, error) {
		t, err := template.ParseFS(assets, "templates/layout.html", "templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("demoidp: parse template %s: %w", name, err)
		}
		return t, nil
	}
	var p pages
	var err error
	if p.login, err = parse("login.html"); err != nil {
		return nil, err
	}
	if p.otp, err = parse("otp.html"); err != nil {
		return nil, err
	}
	if p.message, err = parse("message.html"); err != nil {
		return nil, err
	}
	if p.stylesheet, err = assets.ReadFile("static/demoidp.css"); err != nil {
		return nil, fmt.Errorf("demoidp: read stylesheet: %w", err)
	}
	if p.icon, err = assets.ReadFile("static/favicon.svg"); err != nil {
		return nil, fmt.Errorf("demoidp: read icon: %w", err)
	}
	return &p, nil
}

// render writes a page with headers that keep it out of caches and frames
// and forbid every script: the login UI needs none.
func render(w http.ResponseWriter, t *template.Template, status int, data pageData) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// serveIcon serves the pages' icon, declared in the layout so browsers do
// not probe for a /favicon.ico that does not exist.
func (p *pages) serveIcon(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(p.icon)
}

func (p *pages) serveStylesheet(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(p.stylesheet)
}
