package demoidptest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
)

// Credentials is what the simulated person types.
type Credentials struct {
	// Username is typed into the username field.
	Username string
	// Password is typed into the password field.
	Password string
	// TOTPCode is entered at the second-factor step when non-empty.
	TOTPCode string
	// SkipTOTP presses "continue with password only" at the
	// second-factor step instead of entering a code.
	SkipTOTP bool
}

// ErrLoginRefused is returned (wrapped in a *RefusedError) when the
// provider answers a login step with an error page instead of moving on.
var ErrLoginRefused = errors.New("demoidptest: login refused")

// RefusedError describes a refused login step: the HTTP status and the
// message the provider showed.
type RefusedError struct {
	// Step is "password", "otp" or "page" (any other dead end).
	Step string
	// Status is the HTTP status of the refusal.
	Status int
	// Message is the text the provider showed.
	Message string
}

// Error implements error.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("%v at %s step: HTTP %d: %s", ErrLoginRefused, e.Step, e.Status, e.Message)
}

// Unwrap makes errors.Is(err, ErrLoginRefused) true.
func (e *RefusedError) Unwrap() error { return ErrLoginRefused }

// Login opens authURL and answers whatever the provider asks (password
// form, then second-factor form) with c, until the provider redirects out
// of itself. It returns that redirect: the relying party's callback URL
// with code and state (or error). If the provider needs no login (an SSO
// session is reused) the callback comes back without any form.
func (b *Browser) Login(ctx context.Context, authURL string, c Credentials) (*url.URL, error) {
	page, err := b.Get(ctx, authURL)
	if err != nil {
		return nil, err
	}
	return b.Continue(ctx, page, c)
}

// Continue answers the provider's forms starting from page.
func (b *Browser) Continue(ctx context.Context, page *Page, c Credentials) (*url.URL, error) {
	for step := 0; step < maxHops; step++ {
		if page.Redirect != nil {
			return page.Redirect, nil
		}
		var err error
		if f, ok := page.Form("password-form"); ok {
			if msg, shown := page.TestIDText("login-error"); shown {
				return nil, &RefusedError{Step: "password", Status: page.Status, Message: msg}
			}
			page, err = b.Submit(ctx, f, map[string]string{"username": c.Username, "password": c.Password}, "")
		} else if f, ok := page.Form("otp-form"); ok {
			if msg, shown := page.TestIDText("login-error"); shown && page.Status >= 400 {
				return nil, &RefusedError{Step: "otp", Status: page.Status, Message: msg}
			}
			switch {
			case c.SkipTOTP:
				page, err = b.Submit(ctx, f, nil, "skip")
			case c.TOTPCode != "":
				page, err = b.Submit(ctx, f, map[string]string{"code": c.TOTPCode}, "verify")
			default:
				return nil, errors.New("demoidptest: the provider asks for a TOTP code and none was given")
			}
			// Only one code per login: a refused code ends the attempt
			// here rather than resubmitting it.
			if err == nil && page.Redirect == nil {
				if _, again := page.Form("otp-form"); again {
					msg, _ := page.TestIDText("login-error")
					return nil, &RefusedError{Step: "otp", Status: page.Status, Message: msg}
				}
			}
		} else {
			msg, _ := page.TestIDText("message")
			return nil, &RefusedError{Step: "page", Status: page.Status, Message: msg}
		}
		if err != nil {
			return nil, err
		}
		// A password form shown again means the password was refused.
		if page.Redirect == nil {
			if _, again := page.Form("password-form"); again {
				msg, _ := page.TestIDText("login-error")
				return nil, &RefusedError{Step: "password", Status: page.Status, Message: msg}
			}
		}
	}
	return nil, errors.New("demoidptest: login did not finish")
}
