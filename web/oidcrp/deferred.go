package oidcrp

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"
)

// Deferred is a relying party whose provider may not have answered yet.
// The portal starts with it while the IdP is down: its public pages and
// health probes work, sign-in answers that the provider is unreachable,
// and Run keeps retrying discovery until the provider answers. Once it
// has, Deferred behaves exactly like the RP it built.
type Deferred struct {
	cfg    Config
	accept func(*RP) error

	mu    sync.Mutex
	rp    *RP
	err   error // why there is no RP yet (or, with final, never will be)
	final bool
}

// NewDeferred returns a relying party for cfg that has not discovered its
// provider yet. accept, when not nil, vets the discovered provider (the
// portal compares what it can assert with the step-up settings); an error
// from it is final: sign-in stays off and Ready reports it.
func NewDeferred(cfg Config, accept func(*RP) error) *Deferred {
	return &Deferred{cfg: cfg, accept: accept, err: fmt.Errorf("%w: not tried yet", ErrDiscovery)}
}

// Discover runs discovery once. It returns nil when the provider
// answered and was accepted, an error matching ErrDiscovery when it could
// not be reached (Run will retry), and any other error when the
// configuration cannot work or the provider was not accepted.
func (d *Deferred) Discover(ctx context.Context) error {
	d.mu.Lock()
	done, final := d.rp != nil, d.final
	d.mu.Unlock()
	if done || final {
		return d.Ready(ctx)
	}
	rp, err := New(ctx, d.cfg)
	if err == nil && d.accept != nil {
		if err = d.accept(rp); err != nil {
			rp = nil
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rp, d.err = rp, err
	d.final = err != nil && !errors.Is(err, ErrDiscovery)
	return err
}

// Run retries discovery until the provider answers, the error is final or
// ctx ends: first after every, then backing off to at most 2 minutes.
// report is told each failed attempt (for the log); nil ignores them.
func (d *Deferred) Run(ctx context.Context, every time.Duration, report func(error)) {
	wait := every
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		err := d.Discover(ctx)
		if err == nil || !errors.Is(err, ErrDiscovery) {
			if err != nil && report != nil {
				report(err)
			}
			return
		}
		if report != nil {
			report(err)
		}
		wait = min(2*wait, 2*time.Minute)
	}
}

// Ready reports whether the provider has been discovered (nil) or why not.
func (d *Deferred) Ready(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rp != nil {
		return nil
	}
	return d.err
}

// current returns the RP, or the reason there is none.
func (d *Deferred) current() (*RP, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rp == nil {
		return nil, d.err
	}
	return d.rp, nil
}

// Begin starts a login with the discovered provider, or fails with the
// reason there is none (matching ErrDiscovery while it is unreachable).
func (d *Deferred) Begin(opts AuthOptions) (string, Pending, error) {
	rp, err := d.current()
	if err != nil {
		return "", Pending{}, err
	}
	return rp.Begin(opts)
}

// Complete finishes a login (see RP.Complete).
func (d *Deferred) Complete(ctx context.Context, pending Pending, query url.Values) (*Identity, error) {
	rp, err := d.current()
	if err != nil {
		return nil, err
	}
	return rp.Complete(ctx, pending, query)
}

// EndSessionURL builds the provider's logout URL (see RP.EndSessionURL);
// ok is false while the provider is unknown.
func (d *Deferred) EndSessionURL(idTokenHint, postLogoutRedirect string) (string, bool) {
	rp, err := d.current()
	if err != nil {
		return "", false
	}
	return rp.EndSessionURL(idTokenHint, postLogoutRedirect)
}
