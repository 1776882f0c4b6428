package grant

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
)

// SealKeySize is the size of the key that seals signing keys at rest
// (AES-256).
const SealKeySize = 32

// sealedPrefix marks a seed stored encrypted: "sealed:v1:" then base64url
// of nonce ‖ AES-256-GCM ciphertext, with the kid as additional data so a
// sealed seed cannot be moved to another key's row.
const sealedPrefix = "sealed:v1:"

// sealer encrypts and decrypts seeds; a nil sealer stores them as plain
// base64url (databases created before sealing, and tests that say so).
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) == 0 {
		return nil, nil
	}
	if len(key) != SealKeySize {
		return nil, fmt.Errorf("grant: the seal key must be %d bytes, not %d", SealKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("grant: seal key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("grant: seal key: %w", err)
	}
	return &sealer{aead: aead}, nil
}

// seal returns the stored form of seed for key kid.
func (s *sealer) seal(kid string, seed []byte) (string, error) {
	if s == nil {
		return base64.RawURLEncoding.EncodeToString(seed), nil
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(seed)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("grant: seal: %w", err)
	}
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, seed, []byte(kid))), nil
}

// open returns the seed from its stored form.
func (s *sealer) open(kid, stored string) ([]byte, error) {
	rest, sealed := strings.CutPrefix(stored, sealedPrefix)
	if !sealed {
		return base64.RawURLEncoding.DecodeString(stored)
	}
	if s == nil {
		return nil, fmt.Errorf("grant: key %s is sealed and no seal key is configured", kid)
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return nil, fmt.Errorf("grant: key %s: sealed seed is malformed", kid)
	}
	n := s.aead.NonceSize()
	seed, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(kid))
	if err != nil {
		return nil, fmt.Errorf("grant: key %s does not open with the configured seal key (a different key, or the row was altered)", kid)
	}
	return seed, nil
}
