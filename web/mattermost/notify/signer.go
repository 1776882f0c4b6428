package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/countersign/countersign/web/keyfile"
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
	k, err := keyfile.LoadOrCreate(configured, filepath.Join(dataDir, ActionKeyFile), 32, "action key")
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	return k, nil
}
