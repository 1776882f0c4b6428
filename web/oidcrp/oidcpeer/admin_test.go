package oidcpeer_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/countersign/countersign/web/oidcrp/oidcpeer"
)

// The admin API steers logins, so only the test that started the
// provider may use it.
func TestAdminAPIRequiresTheToken(t *testing.T) {
	t.Parallel()
	p := oidcpeer.Start(t, oidcpeer.Config{Accounts: []oidcpeer.Account{{Subject: "someone"}}})
	for _, auth := range []string{"", "Bearer ", "Bearer not-the-token"} {
		req, err := http.NewRequest(http.MethodPost, p.Issuer()+"/_test/next-login", strings.NewReader(`{"sub":"someone"}`))
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: HTTP %d, want 401", auth, resp.StatusCode)
		}
	}
	// With the token (through the harness) it answers.
	p.NextLogin("someone", "", nil, 0)
}
