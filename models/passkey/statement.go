// Package passkey holds the rules of passkey-signed decisions: the
// decision statement whose hash is the WebAuthn challenge, the check of an
// assertion against it (pure, so receipts can be verified offline), and
// the enrolment, naming and revocation of approvers' passkeys.
package passkey

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// StatementHeader opens every decision statement. It separates the
// domain: a signature over a statement cannot be taken for a signature
// over anything else Countersign, or anyone, asks a passkey to sign.
const StatementHeader = "countersign decision statement v1"

// Statement is what an approver signs with a passkey: this verdict, by
// this person, on this content of this request, once (Nonce), at IssuedAt.
type Statement struct {
	RequestID   string
	ContentHash string
	Verdict     string
	Approver    string
	Nonce       string
	IssuedAt    time.Time
}

// Canonical is the statement's one text form: the header, then one
// "name: value" line per field in a fixed order, each ended by "\n".
// Values may not hold control characters, so no value can forge a line.
func (s Statement) Canonical() ([]byte, error) {
	fields := [...][2]string{
		{"request_id", s.RequestID},
		{"content_hash", s.ContentHash},
		{"verdict", s.Verdict},
		{"approver", s.Approver},
		{"nonce", s.Nonce},
		{"issued_at", s.IssuedAt.UTC().Format(time.RFC3339Nano)},
	}
	var b strings.Builder
	b.WriteString(StatementHeader)
	b.WriteByte('\n')
	for _, f := range fields {
		if f[1] == "" || strings.IndexFunc(f[1], unicode.IsControl) >= 0 {
			return nil, fmt.Errorf("passkey: statement %s is empty or holds a control character: %w", f[0], ErrStatementInvalid)
		}
		b.WriteString(f[0])
		b.WriteString(": ")
		b.WriteString(f[1])
		b.WriteByte('\n')
	}
	if s.IssuedAt.IsZero() {
		return nil, fmt.Errorf("passkey: statement has no time: %w", ErrStatementInvalid)
	}
	return []byte(b.String()), nil
}

// Challenge is the WebAuthn challenge for the statement: the SHA-256 of
// its canonical text.
func (s Statement) Challenge() ([]byte, error) {
	c, err := s.Canonical()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(c)
	return sum[:], nil
}

// ParseStatement reads a canonical statement back (for receipts, which
// carry the text). It refuses anything Canonical would not have written.
func ParseStatement(text string) (Statement, error) {
	lines := strings.Split(text, "\n")
	if len(lines) != 8 || lines[0] != StatementHeader || lines[7] != "" {
		return Statement{}, fmt.Errorf("passkey: not a decision statement: %w", ErrStatementInvalid)
	}
	names := [...]string{"request_id", "content_hash", "verdict", "approver", "nonce", "issued_at"}
	vals := make([]string, len(names))
	for i, n := range names {
		v, ok := strings.CutPrefix(lines[i+1], n+": ")
		if !ok {
			return Statement{}, fmt.Errorf("passkey: statement line %d is not %s: %w", i+2, n, ErrStatementInvalid)
		}
		vals[i] = v
	}
	at, err := time.Parse(time.RFC3339Nano, vals[5])
	if err != nil {
		return Statement{}, fmt.Errorf("passkey: statement time: %w", ErrStatementInvalid)
	}
	s := Statement{RequestID: vals[0], ContentHash: vals[1], Verdict: vals[2], Approver: vals[3], Nonce: vals[4], IssuedAt: at}
	if c, err := s.Canonical(); err != nil || string(c) != text {
		return Statement{}, fmt.Errorf("passkey: statement is not canonical: %w", ErrStatementInvalid)
	}
	return s, nil
}

// b64 is the unpadded base64url encoding WebAuthn uses.
var b64 = base64.RawURLEncoding

// Encode is b64 text of raw bytes, the form stored and shown.
func Encode(b []byte) string { return b64.EncodeToString(b) }

// Decode reads b64 text, tolerating padding.
func Decode(s string) ([]byte, error) { return b64.DecodeString(strings.TrimRight(s, "=")) }
