package handlers

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/contenthash"
)

// maxVerified bounds the verification memo; when full it starts over.
const maxVerified = 4096

// contentVerifier answers approval.VerifyContent for the request page,
// remembering the answer for the exact stored content it was computed on.
//
// Why: canonicalising a large request (200 posts, 100 tool calls) costs
// several milliseconds on every page view, most of the page's budget. The
// content hash is a pure function of json.Marshal(contenthash.OfRequest(…))
// (contenthash.Canonical re-encodes exactly those bytes) and of the stored
// ContentHash it is compared with, so the memo is keyed by a digest of
// both: any change to any stored field the hash covers — including a
// tampered row — changes the key and forces a full verification. Nothing is
// trusted from earlier views except a result for byte-identical input.
type contentVerifier struct {
	mu   sync.Mutex
	seen map[string]verifiedContent
}

// verifiedContent is one remembered verification.
type verifiedContent struct {
	key [sha256.Size]byte
	ok  bool
}

// verify reports whether r's stored content still hashes to r.ContentHash.
func (v *contentVerifier) verify(r *models.Request) (bool, error) {
	raw, err := json.Marshal(contenthash.OfRequest(r, r.Posts, r.ToolCalls))
	if err != nil {
		return false, fmt.Errorf("encode content of %s: %w", r.ID, err)
	}
	h := sha256.New()
	h.Write([]byte(r.ContentHash))
	h.Write([]byte{0})
	h.Write(raw)
	var key [sha256.Size]byte
	h.Sum(key[:0])

	v.mu.Lock()
	prev, hit := v.seen[r.ID]
	v.mu.Unlock()
	if hit && prev.key == key {
		return prev.ok, nil
	}
	_, ok, err := approval.VerifyContent(r)
	if err != nil {
		return false, err
	}
	v.mu.Lock()
	if v.seen == nil || len(v.seen) >= maxVerified {
		v.seen = make(map[string]verifiedContent)
	}
	v.seen[r.ID] = verifiedContent{key: key, ok: ok}
	v.mu.Unlock()
	return ok, nil
}
