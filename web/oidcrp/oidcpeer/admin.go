package oidcpeer

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// NextLogin decides how the next login at the provider goes: who (sub;
// empty for the first account), with which acr and amr (empty: none), and
// how long ago the person authenticated (auth_time = now - authTimeAgo).
// It applies to one login; the one after it is the default again.
func (p *Peer) NextLogin(sub, acr string, amr []string, authTimeAgo time.Duration) {
	p.t.Helper()
	p.admin("/_test/next-login", newNextLogin(sub, acr, amr, authTimeAgo), nil)
}

// SetAccount replaces the claims of the account sub (creating it if
// needed); tokens and userinfo answers issued from now on carry them.
func (p *Peer) SetAccount(sub string, claims map[string]any) {
	p.t.Helper()
	p.admin("/_test/accounts", map[string]any{"sub": sub, "claims": claims}, nil)
}

// RotateKeys makes the provider sign with a new key from now on and
// returns its kid. With keepOld the previous keys stay published in the
// JWKS (a graceful rotation); without, they are removed at once. Issuer,
// sessions and grants survive.
func (p *Peer) RotateKeys(keepOld bool) string {
	p.t.Helper()
	var out struct {
		KID string `json:"kid"`
	}
	p.admin("/_test/rotate-keys", map[string]bool{"keepOld": keepOld}, &out)
	return out.KID
}

// admin posts body to an admin route and fails the test unless it
// answers 200.
func (p *Peer) admin(path string, body, out any) {
	p.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		p.t.Fatalf("oidcpeer: encode %s: %v", path, err)
	}
	req, err := http.NewRequest(http.MethodPost, p.issuer+path, bytes.NewReader(b))
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := p.http.Do(req)
	if err != nil {
		p.t.Fatalf("oidcpeer: %s: %v", path, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		p.t.Fatalf("oidcpeer: %s answered HTTP %d: %s", path, resp.StatusCode, answer)
	}
	if out != nil {
		if err := json.Unmarshal(answer, out); err != nil {
			p.t.Fatalf("oidcpeer: %s: decode %q: %v", path, answer, err)
		}
	}
}
