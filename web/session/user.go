// Package session holds the signed-in user of a browser request. The
// session middleware (web) loads it from the server-side session store and
// puts it in the echo context; handlers read it with UserFrom and never
// look at cookies themselves.
package session

import (
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
)

// User is who is signed in, as proven by the IdP at login or last step-up.
type User struct {
	// Subject and Issuer identify the person at the IdP.
	Subject string
	Issuer  string
	// Username is matched against Mattermost usernames (requesters and
	// sponsors) for the separation-of-duties rules.
	Username string
	Name     string
	Email    string
	// Roles are Countersign roles mapped from the IdP's groups claim.
	Roles []string
	// MissingRolesClaim names the roles claim when the IdP sent none at
	// all at the last sign-in: the person has no role because the claim is
	// not released, which the dashboard explains.
	MissingRolesClaim string
	// Evidence of the most recent authentication.
	AuthTime    time.Time
	ACR         string
	AMR         []string
	IDTokenHash string
}

// HasRole reports whether the user holds role.
func (u *User) HasRole(role string) bool {
	for _, r := range u.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Approver returns the user as the domain sees a decider.
func (u *User) Approver() approval.Approver {
	display := u.Name
	if display == "" {
		display = u.Username
	}
	return approval.Approver{
		Actor:    models.Actor{Type: models.ActorHuman, ID: u.Subject, Display: display},
		Username: strings.ToLower(u.Username),
		Roles:    append([]string(nil), u.Roles...),
	}
}

// StepUp returns the user's latest authentication as decision evidence.
func (u *User) StepUp() approval.StepUp {
	return approval.StepUp{AuthTime: u.AuthTime, ACR: u.ACR, AMR: append([]string(nil), u.AMR...), IDTokenHash: u.IDTokenHash}
}

// Context keys. Unexported types keep other packages from colliding.
type ctxKey int

const (
	userKey ctxKey = iota
	csrfKey
)

// WithUser stores u in the request context (session middleware only).
func WithUser(c echo.Context, u *User) { c.Set(keyName(userKey), u) }

// UserFrom returns the signed-in user, if any.
func UserFrom(c echo.Context) (*User, bool) {
	u, ok := c.Get(keyName(userKey)).(*User)
	return u, ok && u != nil
}

// WithCSRFToken stores the session's CSRF token (session middleware only).
func WithCSRFToken(c echo.Context, token string) { c.Set(keyName(csrfKey), token) }

// CSRFToken returns the token forms must carry in their "csrf" field.
func CSRFToken(c echo.Context) string {
	t, _ := c.Get(keyName(csrfKey)).(string)
	return t
}

// CSRFField is the form field name the CSRF check reads.
const CSRFField = "csrf"

func keyName(k ctxKey) string {
	switch k {
	case userKey:
		return "countersign.session.user"
	default:
		return "countersign.session.csrf"
	}
}
