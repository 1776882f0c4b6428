package demoidp

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// signingKey is the provider's RSA key, generated at start and never
// written anywhere: a restart invalidates every token, which is what a demo
// wants.
type signingKey struct {
	id      string
	private *rsa.PrivateKey
}

func newSigningKey() (*signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("demoidp: generate signing key: %w", err)
	}
	kid := make([]byte, 12)
	if _, err := rand.Read(kid); err != nil {
		return nil, fmt.Errorf("demoidp: generate key id: %w", err)
	}
	return &signingKey{id: base64.RawURLEncoding.EncodeToString(kid), private: priv}, nil
}

// SignatureAlgorithm implements op.SigningKey.
func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }

// Key implements op.SigningKey.
func (k *signingKey) Key() any { return k.private }

// ID implements op.SigningKey.
func (k *signingKey) ID() string { return k.id }

// publicKey is the JWKS view of the signing key.
type publicKey struct{ k *signingKey }

// ID implements op.Key.
func (p publicKey) ID() string { return p.k.id }

// Algorithm implements op.Key.
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }

// Use implements op.Key.
func (p publicKey) Use() string { return "sig" }

// Key implements op.Key.
func (p publicKey) Key() any { return &p.k.private.PublicKey }

var (
	_ op.SigningKey = (*signingKey)(nil)
	_ op.Key        = publicKey{}
)
