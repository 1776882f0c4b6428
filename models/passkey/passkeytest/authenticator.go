// Package passkeytest is a software WebAuthn authenticator for tests: it
// enrolls (attestation format "none") and signs assertions exactly as the
// specification lays them out, and can be told to misbehave (no user
// verification, a counter going backwards, another relying party).
package passkeytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/countersign/countersign/models/passkey"
)

// Authenticator holds one P-256 credential.
type Authenticator struct {
	RPID    string
	ID      []byte
	Key     *ecdsa.PrivateKey
	Counter uint32
	// NoUV signs without the user-verified flag.
	NoUV bool
	// NoCounter keeps the signature counter at zero, as authenticators
	// without a counter do (many synced passkeys).
	NoCounter bool
}

// New returns an authenticator with a fresh credential for rpID.
func New(rpID string) *Authenticator {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return &Authenticator{RPID: rpID, ID: id, Key: k}
}

// CredentialID is the credential id in base64url.
func (a *Authenticator) CredentialID() string { return passkey.Encode(a.ID) }

// COSEKey is the public key in COSE form.
func (a *Authenticator) COSEKey() []byte {
	pub, err := a.Key.PublicKey.ECDH()
	if err != nil {
		panic(err)
	}
	raw := pub.Bytes() // 0x04 || X || Y
	b, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         int64(webauthncose.P256), XCoord: raw[1:33], YCoord: raw[33:],
	})
	if err != nil {
		panic(err)
	}
	return b
}

// PublicKey is the COSE public key in base64url, as stored.
func (a *Authenticator) PublicKey() string { return passkey.Encode(a.COSEKey()) }

func (a *Authenticator) flags(extra byte) byte {
	f := byte(0x01) | extra // user present
	if !a.NoUV {
		f |= 0x04
	}
	return f
}

func clientData(typ string, challenge []byte, origin string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": passkey.Encode(challenge), "origin": origin, "crossOrigin": false})
	return b
}

// Register answers a registration ceremony: the JSON a browser posts
// back from navigator.credentials.create.
func (a *Authenticator) Register(challenge []byte, origin string) []byte {
	rpHash := sha256.Sum256([]byte(a.RPID))
	auth := append([]byte{}, rpHash[:]...)
	auth = append(auth, a.flags(0x40))
	auth = binary.BigEndian.AppendUint32(auth, a.Counter)
	auth = append(auth, make([]byte, 16)...) // aaguid
	auth = binary.BigEndian.AppendUint16(auth, uint16(len(a.ID)))
	auth = append(auth, a.ID...)
	auth = append(auth, a.COSEKey()...)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": auth})
	if err != nil {
		panic(err)
	}
	b, _ := json.Marshal(map[string]any{
		"id": a.CredentialID(), "rawId": a.CredentialID(), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    passkey.Encode(clientData("webauthn.create", challenge, origin)),
			"attestationObject": passkey.Encode(att),
		},
	})
	return b
}

// Sign answers an assertion ceremony for challenge at origin, advancing
// the counter first (unless NoCounter holds it at zero).
func (a *Authenticator) Sign(challenge []byte, origin string) passkey.Assertion {
	if !a.NoCounter {
		a.Counter++
	}
	return a.SignAt(challenge, origin, a.RPID, a.Counter)
}

// SignAt signs with an explicit relying party id and counter.
func (a *Authenticator) SignAt(challenge []byte, origin, rpID string, counter uint32) passkey.Assertion {
	rpHash := sha256.Sum256([]byte(rpID))
	auth := append([]byte{}, rpHash[:]...)
	auth = append(auth, a.flags(0))
	auth = binary.BigEndian.AppendUint32(auth, counter)
	cdj := clientData("webauthn.get", challenge, origin)
	h := sha256.Sum256(cdj)
	digest := sha256.Sum256(append(append([]byte{}, auth...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.Key, digest[:])
	if err != nil {
		panic(fmt.Sprintf("sign: %v", err))
	}
	return passkey.Assertion{CredentialID: a.CredentialID(), AuthenticatorData: passkey.Encode(auth), ClientDataJSON: passkey.Encode(cdj), Signature: passkey.Encode(sig)}
}

// SignStatement signs st's challenge at origin.
func (a *Authenticator) SignStatement(st passkey.Statement, origin string) passkey.Assertion {
	c, err := st.Challenge()
	if err != nil {
		panic(err)
	}
	return a.Sign(c, origin)
}
