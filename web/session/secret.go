package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// secretBytes is the entropy of session ids and CSRF tokens: 256 bits, far
// beyond guessing, and the 32 bytes ASVS asks of session tokens.
const secretBytes = 32

// newSecret returns secretBytes from crypto/rand, base64url without padding
// (43 characters, safe in cookies, URLs and HTML attributes).
func newSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session: read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// newIDAndCSRF makes a session's two secrets: its id and its CSRF token.
func newIDAndCSRF() (id, csrf string, err error) {
	if id, err = newSecret(); err != nil {
		return "", "", err
	}
	if csrf, err = newSecret(); err != nil {
		return "", "", err
	}
	return id, csrf, nil
}

// wellFormed reports whether s looks like a value newSecret made. Anything
// else (a truncated, padded or oversized cookie) is refused before it
// reaches the database.
func wellFormed(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(secretBytes) {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == secretBytes
}

// hashID is how a session id is stored: hex SHA-256. The id is 256 random
// bits, so a plain hash (no salt, no stretching) is enough to make a leaked
// table useless as cookies.
func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}
