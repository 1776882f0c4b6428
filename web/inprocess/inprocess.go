// Package inprocess reaches an http.Handler through an *http.Client
// without a network: for the demo, whose identity provider lives inside
// the portal's own, not yet listening, server.
package inprocess

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Client returns an HTTP client that answers every request by
// calling h directly instead of going over the network. `countersign demo`
// mounts the demo IdP inside the portal's own server, which is not
// listening yet when the relying party runs discovery; with this client
// the relying party reaches the provider (discovery, JWKS, token) in
// process, whatever PublicURL says. Browsers still reach it over HTTP.
func Client(h http.Handler) *http.Client {
	return &http.Client{Transport: handlerTransport{h: h}, Timeout: 10 * time.Second}
}

// handlerTransport is an http.RoundTripper over an http.Handler.
type handlerTransport struct {
	h http.Handler
}

// RoundTrip implements http.RoundTripper.
func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	in := r.Clone(r.Context())
	in.RequestURI = r.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:0"
	if in.Host == "" {
		in.Host = r.URL.Host
	}
	if r.Body != nil {
		body, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("in-process request body: %w", err)
		}
		in.Body = io.NopCloser(bytes.NewReader(body))
	}
	w := &bufferedResponse{header: http.Header{}}
	t.h.ServeHTTP(w, in)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.header,
		Body:          io.NopCloser(bytes.NewReader(w.body.Bytes())),
		ContentLength: int64(w.body.Len()),
		Request:       r,
	}, nil
}

// bufferedResponse is the http.ResponseWriter a handler writes to in
// process.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

// Header implements http.ResponseWriter.
func (w *bufferedResponse) Header() http.Header { return w.header }

// WriteHeader implements http.ResponseWriter; only the first call counts.
func (w *bufferedResponse) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

// Write implements http.ResponseWriter.
func (w *bufferedResponse) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}
