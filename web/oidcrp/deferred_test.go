package oidcrp

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestDeferredWaitsForTheProvider: while the provider does not answer,
// logins fail with ErrDiscovery and Ready says why; Run keeps asking and,
// once it answers, the same Deferred signs people in.
func TestDeferredWaitsForTheProvider(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t)
	var up atomic.Bool
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		ts.srv.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	var accepted atomic.Int32
	d := NewDeferred(Config{
		Issuer: ts.srv.URL, ClientID: tsClient, ClientSecret: "secret-secret-secret", RedirectURL: "http://portal.test/cb",
		HTTPClient: &http.Client{Transport: redirectTo(front.URL, ts.srv.URL)},
	}, func(*RP) error { accepted.Add(1); return nil })
	ctx := context.Background()
	if err := d.Discover(ctx); !errors.Is(err, ErrDiscovery) {
		t.Fatalf("discover while down: %v, want ErrDiscovery", err)
	}
	if _, _, err := d.Begin(AuthOptions{}); !errors.Is(err, ErrDiscovery) {
		t.Fatalf("begin while down: %v", err)
	}
	if _, ok := d.EndSessionURL("", ""); ok {
		t.Fatal("a logout URL without a provider")
	}
	if d.Ready(ctx) == nil {
		t.Fatal("ready while down")
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	failures := make(chan error, 100)
	done := make(chan struct{})
	go func() { d.Run(runCtx, 10*time.Millisecond, func(err error) { failures <- err }); close(done) }()
	if err := <-failures; !errors.Is(err, ErrDiscovery) {
		t.Fatalf("a retry reported %v", err)
	}
	up.Store(true)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop after the provider answered")
	}
	if err := d.Ready(ctx); err != nil || accepted.Load() != 1 {
		t.Fatalf("ready %v, accepted %d times", err, accepted.Load())
	}
	if _, _, err := d.Begin(AuthOptions{}); err != nil {
		t.Fatalf("begin after discovery: %v", err)
	}
}

// TestDeferredRefusalIsFinal: a provider the portal does not accept
// (it cannot assert the step-up strength) is not retried: sign-in stays
// off and Ready keeps the reason.
func TestDeferredRefusalIsFinal(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t)
	refusal := errors.New("cannot assert acr urn:mfa")
	var asked atomic.Int32
	d := NewDeferred(Config{
		Issuer: ts.srv.URL, ClientID: tsClient, ClientSecret: "secret-secret-secret", RedirectURL: "http://portal.test/cb",
		HTTPClient: ts.srv.Client(),
	}, func(*RP) error { asked.Add(1); return refusal })
	if err := d.Discover(context.Background()); !errors.Is(err, refusal) {
		t.Fatalf("discover: %v", err)
	}
	done := make(chan struct{})
	go func() { d.Run(context.Background(), time.Millisecond, nil); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run retried a final refusal")
	}
	if err := d.Ready(context.Background()); !errors.Is(err, refusal) || asked.Load() != 1 {
		t.Fatalf("ready %v after %d checks", err, asked.Load())
	}
	if _, _, err := d.Begin(AuthOptions{}); !errors.Is(err, refusal) {
		t.Fatalf("begin: %v", err)
	}
}

// redirectTo sends every request for origin from to origin to instead,
// so the provider keeps its issuer URL while a front server decides
// whether it answers.
func redirectTo(to, from string) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if "http://"+r.URL.Host == from {
			r = r.Clone(r.Context())
			r.URL.Host = to[len("http://"):]
		}
		return http.DefaultTransport.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
