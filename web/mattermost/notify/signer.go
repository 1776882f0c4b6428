package notify

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ActionCancel is the only button action: the requester cancels.
const ActionCancel = "cancel"

// ErrBadToken means a button's context is not one Countersign signed for
// this post, or it expired.
var ErrBadToken = errors.New("notify: button token is not valid")

// Signer signs and checks the tokens carried in buttons' context.
// Mattermost passes context back verbatim but signs nothing, and anyone
// who can read the channel can click: the token proves Countersign made
// the button for this request, this action and this post, until exp.
type Signer struct {
	key []byte
}

// NewSigner returns a Signer with key (at least 32 bytes).
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("notify: action key must be at least 32 bytes, got %d", len(key))
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// mac computes the token over every bound field, each length-prefixed so
// no two field lists encode alike.
func (s *Signer) mac(requestID, action, postID string, exp int64) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, f := range []string{"countersign-action-v1", requestID, action, postID, strconv.FormatInt(exp, 10)} {
		fmt.Fprintf(m, "%d:%s\n", len(f), f)
	}
	return m.Sum(nil)
}

// Context is the integration context of a button: request, action, expiry
// and signature (the post id is bound but not carried: Mattermost sends
// it as post_id).
func (s *Signer) Context(requestID, action, postID string, exp time.Time) map[string]any {
	e := exp.Unix()
	return map[string]any{
		"request_id": requestID, "action": action, "exp": strconv.FormatInt(e, 10),
		"sig": base64.RawURLEncoding.EncodeToString(s.mac(requestID, action, postID, e)),
	}
}

// Verify checks a button's context against the post it was clicked on and
// returns the request id and action. The signature is compared in
// constant time; a wrong post, a changed field or a passed expiry are all
// ErrBadToken.
func (s *Signer) Verify(ctx map[string]any, postID string, now time.Time) (string, string, error) {
	str := func(k string) string { v, _ := ctx[k].(string); return v }
	requestID, action, expText, sigText := str("request_id"), str("action"), str("exp"), str("sig")
	if requestID == "" || action == "" || expText == "" || sigText == "" || postID == "" {
		return "", "", fmt.Errorf("%w: fields missing", ErrBadToken)
	}
	exp, err := strconv.ParseInt(expText, 10, 64)
	if err != nil {
		return "", "", fmt.Errorf("%w: bad expiry", ErrBadToken)
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigText)
	if err != nil {
		return "", "", fmt.Errorf("%w: bad signature encoding", ErrBadToken)
	}
	if !hmac.Equal(sig, s.mac(requestID, action, postID, exp)) {
		return "", "", fmt.Errorf("%w: signature does not match", ErrBadToken)
	}
	if now.Unix() >= exp {
		return "", "", fmt.Errorf("%w: expired", ErrBadToken)
	}
	return requestID, action, nil
}

// ActionKeyFile is the name of the generated button-signing key in the
// data directory.
const ActionKeyFile = "mattermost-action.key"

// LoadActionKey returns the button-signing key: configured (hex, at least
// 32 bytes) when given, else read from dataDir/ActionKeyFile, created
// there (mode 0600) at first start. Replicas must share it.
func LoadActionKey(configured, dataDir string) ([]byte, error) {
	if configured != "" {
		k, err := hex.DecodeString(strings.TrimSpace(configured))
		if err != nil || len(k) < 32 {
			return nil, fmt.Errorf("notify: action key must be at least 32 bytes of hex")
		}
		return k, nil
	}
	path := filepath.Join(dataDir, ActionKeyFile)
	if b, err := os.ReadFile(path); err == nil {
		k, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) < 32 {
			return nil, fmt.Errorf("notify: %s does not hold a key of at least 32 bytes of hex", path)
		}
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("notify: read action key: %w", err)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("notify: generate action key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			// Another process created it first: use theirs.
			return LoadActionKey("", dataDir)
		}
		return nil, fmt.Errorf("notify: create action key: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("notify: write action key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("notify: write action key: %w", err)
	}
	return k, nil
}
