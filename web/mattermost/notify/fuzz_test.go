package notify_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/web/mattermost/notify"
)

// sigMark in a fuzzed body is replaced by the signature of the fuzzed
// (request, action, post, expiry), so the fuzzer can build clicks that
// carry a real signature next to any other field.
const sigMark = "@SIG@"

// FuzzButtonContext feeds button clicks, as Mattermost posts them to
// /hooks/mattermost/action, to the decoding of the handler and
// Signer.Verify. Only one context is signed per input; a click is accepted
// only if it names exactly that request, action and post, before the
// expiry, and never under another key. Every refusal is ErrBadToken.
func FuzzButtonContext(f *testing.F) {
	const (
		req  = "REQ-7KM3QX9A2D"
		post = "bwhaznx8ujbmfdw1xpbpz5sezw"
		exp  = int64(1_800_000_600)
	)
	click := func(ctx string) []byte {
		return []byte(`{"user_id":"u1","post_id":"` + post + `","type":"","context":` + ctx + `}`)
	}
	for _, ctx := range []string{
		`{"request_id":"` + req + `","action":"cancel","exp":"1800000600","sig":"` + sigMark + `"}`,
		`{"request_id":"` + req + `","action":"cancel","exp":"+01800000600","sig":"` + sigMark + `"}`,
		`{"request_id":"REQ-7KM3QX9A2E","action":"cancel","exp":"1800000600","sig":"` + sigMark + `"}`,
		`{"request_id":"` + req + `","action":"cancel","exp":"1800000601","sig":"` + sigMark + `"}`,
		`{"request_id":"` + req + `","action":"cancel","exp":1800000600,"sig":"` + sigMark + `"}`,
		`{"request_id":"` + req + `","action":"cancel","exp":"1800000600","sig":"AAAA"}`,
		`{"request_id":"` + req + `","action":"cancel","exp":"soon","sig":"` + sigMark + `"}`,
		`{"request_id":"` + req + `","action":"cancel","exp":"1800000600","sig":"!` + sigMark + `"}`,
		`{"request_id":["x"],"action":null,"exp":"","sig":{}}`,
		`null`,
	} {
		f.Add(click(ctx), req, notify.ActionCancel, post, exp)
	}
	f.Add(click(`{"request_id":"`+req+`","action":"cancel","exp":"1700000000","sig":"`+sigMark+`"}`), req, notify.ActionCancel, post, int64(1_700_000_000))
	f.Add([]byte(`{"post_id":"","context":{"request_id":"r","action":"a","exp":"1","sig":"`+sigMark+`"}}`), "r", "a", "", int64(1))

	key := []byte("0123456789abcdef0123456789abcdef")
	signer, err := notify.NewSigner(key)
	if err != nil {
		f.Fatal(err)
	}
	other, err := notify.NewSigner(append([]byte("another key, 32 bytes or more: "), key...))
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, body []byte, requestID, action, postID string, expUnix int64) {
		sig, _ := signer.Context(requestID, action, postID, time.Unix(expUnix, 0))["sig"].(string)
		body = bytes.ReplaceAll(body, []byte(sigMark), []byte(sig))
		var in model.PostActionIntegrationRequest
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&in); err != nil {
			return // the handler answers 400
		}
		id, act, err := signer.Verify(in.Context, in.PostId, now)
		if err != nil {
			if !errors.Is(err, notify.ErrBadToken) || err.Error() == "" {
				t.Fatalf("refusal %v is not ErrBadToken", err)
			}
			return
		}
		expText, _ := in.Context["exp"].(string)
		gotExp, perr := strconv.ParseInt(expText, 10, 64)
		if id != requestID || act != action || in.PostId != postID || perr != nil || gotExp != expUnix {
			t.Fatalf("accepted a context that was not signed: %q %q on post %q until %q; signed %q %q on post %q until %d",
				id, act, in.PostId, expText, requestID, action, postID, expUnix)
		}
		if now.Unix() >= expUnix {
			t.Fatalf("accepted an expired context (exp %d, now %d)", expUnix, now.Unix())
		}
		if _, _, err := other.Verify(in.Context, in.PostId, now); err == nil {
			t.Fatal("another key accepted the context")
		}
	})
}
