package passkey

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/go-webauthn/webauthn/protocol"
)

// Assertion is what a passkey returns when it signs: stored with the
// decision and carried by its receipt. Fields are base64url text.
type Assertion struct {
	CredentialID      string `json:"credential_id"`
	AuthenticatorData string `json:"authenticator_data"`
	ClientDataJSON    string `json:"client_data_json"`
	Signature         string `json:"signature"`
}

// RP is the relying party a signature must be made for: its id (a
// domain) and the origins the portal is served from.
type RP struct {
	ID      string
	Origins []string
}

// Checked is what a verified assertion tells beyond "valid".
type Checked struct {
	// SignCount is the authenticator's signature counter.
	SignCount uint32
	// Origin is the origin the browser reported.
	Origin string
}

// clientData is the part of clientDataJSON checked before the signature,
// so a refusal names its reason.
type clientData struct {
	Type      string `json:"type"`
	Challenge string `json:"challenge"`
	Origin    string `json:"origin"`
}

// Verify checks that a, made by the key publicKey (COSE, base64url),
// signs st for rp with the person verified: the client data is an
// assertion whose challenge is the statement's hash (compared in
// constant time) and whose origin is one of rp's; the authenticator data
// is for rp's id and carries the user-present and user-verified flags; the
// signature over authenticator data and client data hash verifies. It
// touches no database, so it runs offline on a receipt as in Decide.
func Verify(st Statement, a Assertion, publicKey string, rp RP) (*Checked, error) {
	want, err := st.Challenge()
	if err != nil {
		return nil, err
	}
	authData, err1 := Decode(a.AuthenticatorData)
	cdj, err2 := Decode(a.ClientDataJSON)
	sig, err3 := Decode(a.Signature)
	key, err4 := Decode(publicKey)
	rawID, err5 := Decode(a.CredentialID)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || err5 != nil || len(authData) < 37 || len(sig) == 0 || len(rawID) == 0 {
		return nil, ErrAssertionMalformed
	}
	var cd clientData
	if err := json.Unmarshal(cdj, &cd); err != nil {
		return nil, fmt.Errorf("%w: client data is not JSON", ErrAssertionMalformed)
	}
	if cd.Type != string(protocol.AssertCeremony) {
		return nil, fmt.Errorf("%w: type %q", ErrWrongCeremony, cd.Type)
	}
	got, err := Decode(cd.Challenge)
	if err != nil || subtle.ConstantTimeCompare(got, want) != 1 {
		return nil, ErrChallengeMismatch
	}
	if !slices.Contains(rp.Origins, cd.Origin) {
		return nil, fmt.Errorf("%w: %q", ErrWrongOrigin, cd.Origin)
	}
	rpHash := sha256.Sum256([]byte(rp.ID))
	if !bytes.Equal(authData[:32], rpHash[:]) {
		return nil, ErrWrongRPID
	}
	flags := protocol.AuthenticatorFlags(authData[32])
	if !flags.UserPresent() || !flags.UserVerified() {
		return nil, ErrNoUserVerification
	}
	// The library repeats the checks above and verifies the signature
	// with the COSE key: the checks are the specification's, done once
	// by code written for them.
	car := protocol.CredentialAssertionResponse{
		PublicKeyCredential: protocol.PublicKeyCredential{
			Credential: protocol.Credential{ID: a.CredentialID, Type: string(protocol.PublicKeyCredentialType)},
			RawID:      rawID,
		},
		AssertionResponse: protocol.AuthenticatorAssertionResponse{
			AuthenticatorResponse: protocol.AuthenticatorResponse{ClientDataJSON: cdj},
			AuthenticatorData:     authData,
			Signature:             sig,
		},
	}
	parsed, err := car.Parse()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAssertionMalformed, err)
	}
	if err := parsed.Verify(Encode(want), rp.ID, "", rp.Origins, nil, nil, protocol.TopOriginExplicitVerificationMode, false, true, true, key, protocol.SignaturePolicy{}); err != nil {
		return nil, ErrBadSignature
	}
	return &Checked{SignCount: parsed.Response.AuthenticatorData.Counter, Origin: cd.Origin}, nil
}
