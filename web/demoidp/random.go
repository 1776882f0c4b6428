package demoidp

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// randomToken returns n bytes from crypto/rand, base64url encoded. Every
// identifier a browser or client could guess at (auth request ids, CSRF
// tokens, session ids, token ids) comes from here.
func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("demoidp: read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
