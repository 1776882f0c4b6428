package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/countersign/countersign/web/oidcrp"
	"github.com/countersign/countersign/web/session"
)

func TestClassifyAuthError(t *testing.T) {
	cases := map[string]struct {
		err    error
		status int
	}{
		"no pending":      {session.ErrNoPending, http.StatusBadRequest},
		"no session":      {session.ErrNoSession, http.StatusBadRequest},
		"forged state":    {oidcrp.ErrStateMismatch, http.StatusBadRequest},
		"expired login":   {fmt.Errorf("x: %w", oidcrp.ErrPendingExpired), http.StatusBadRequest},
		"wrong nonce":     {oidcrp.ErrNonceMismatch, http.StatusBadRequest},
		"other audience":  {fmt.Errorf("%w: aud", oidcrp.ErrAudience), http.StatusBadRequest},
		"expired token":   {oidcrp.ErrTokenExpired, http.StatusBadRequest},
		"stale":           {oidcrp.ErrStaleAuth, http.StatusForbidden},
		"weak acr":        {oidcrp.ErrWeakACR, http.StatusForbidden},
		"weak amr":        {oidcrp.ErrWeakAMR, http.StatusForbidden},
		"cancelled":       {&oidcrp.IdPError{Code: "access_denied", Description: "<script>"}, http.StatusForbidden},
		"no username":     {session.ErrNoUsername, http.StatusForbidden},
		"discovery error": {oidcrp.ErrDiscovery, http.StatusServiceUnavailable},
		"userinfo":        {fmt.Errorf("%w: 500", oidcrp.ErrUserinfo), http.StatusBadGateway},
		"anything else":   {errors.New("database on fire"), http.StatusInternalServerError},
	}
	for name, tc := range cases {
		p := classifyAuthError(tc.err)
		if p.status != tc.status {
			t.Errorf("%s: status %d, want %d", name, p.status, tc.status)
		}
		if tc.status != http.StatusInternalServerError && (p.message == "" || strings.Contains(p.message, tc.err.Error())) {
			t.Errorf("%s: message %q must be set and must not repeat the error", name, p.message)
		}
		if tc.status == http.StatusInternalServerError && p.message != "" {
			t.Errorf("%s: an internal error gets a message: %q", name, p.message)
		}
	}
}
