package oidcrp

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// tokenServer is a minimal OpenID Provider (discovery, JWKS, token
// endpoint) whose ID token claims the test chooses. It exists to produce
// tokens a well-behaved IdP never would (expired, wrong audience, no
// auth_time...) and check that the RP refuses them.
type tokenServer struct {
	srv    *httptest.Server
	key    *rsa.PrivateKey
	signer *rsa.PrivateKey // signs tokens; differs from key to forge signatures

	mu     sync.Mutex
	claims map[string]any
	// userinfo is what the userinfo endpoint answers (with the access
	// token "opaque"); nil answers only the issued token's sub, and
	// userinfoDown answers 500. calls counts the requests.
	userinfo     map[string]any
	userinfoDown bool
	calls        int
}

func newTokenServer(t *testing.T) *tokenServer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ts := &tokenServer{key: key, signer: key}
	mux := http.NewServeMux()
	ts.srv = httptest.NewServer(mux)
	t.Cleanup(ts.srv.Close)
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{
			"issuer":                                ts.srv.URL,
			"authorization_endpoint":                ts.srv.URL + "/authorize",
			"token_endpoint":                        ts.srv.URL + "/token",
			"jwks_uri":                              ts.srv.URL + "/keys",
			"userinfo_endpoint":                     ts.srv.URL + "/userinfo",
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "test-key",
			"n": b64(key.N.Bytes()),
			"e": b64(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("code") != "test-code" || r.PostForm.Get("code_verifier") == "" {
			w.WriteHeader(http.StatusBadRequest)
			writeJSON(w, map[string]string{"error": "invalid_grant"})
			return
		}
		ts.mu.Lock()
		claims := ts.claims
		ts.mu.Unlock()
		writeJSON(w, map[string]any{
			"access_token": "opaque", "token_type": "Bearer", "expires_in": 60,
			"id_token": ts.sign(t, claims),
		})
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		ts.mu.Lock()
		info, down := ts.userinfo, ts.userinfoDown
		if info == nil {
			info = map[string]any{"sub": ts.claims["sub"]}
		}
		ts.calls++
		ts.mu.Unlock()
		switch {
		case r.Header.Get("Authorization") != "Bearer opaque":
			w.WriteHeader(http.StatusUnauthorized)
		case down:
			w.WriteHeader(http.StatusInternalServerError)
		default:
			writeJSON(w, info)
		}
	})
	return ts
}

// answerUserinfo sets what the userinfo endpoint answers (nil: the sub
// alone; down: HTTP 500) and resets its call count.
func (ts *tokenServer) answerUserinfo(info map[string]any, down bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.userinfo, ts.userinfoDown, ts.calls = info, down, 0
}

// userinfoCalls is how often the userinfo endpoint was asked.
func (ts *tokenServer) userinfoCalls() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.calls
}

func (ts *tokenServer) issue(claims map[string]any) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.claims = claims
}

func (ts *tokenServer) sign(t *testing.T, claims map[string]any) string {
	header := b64(mustJSON(t, map[string]string{"alg": "RS256", "kid": "test-key", "typ": "JWT"}))
	payload := b64(mustJSON(t, claims))
	digest := sha256.Sum256([]byte(header + "." + payload))
	sig, err := rsa.SignPKCS1v15(rand.Reader, ts.signer, crypto.SHA256, digest[:])
	if err != nil {
		t.Error(err)
	}
	return header + "." + payload + "." + b64(sig)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Error(err)
	}
	return b
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
