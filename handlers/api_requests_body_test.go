package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/mattermost/mmfake"
)

// TestAgentAPIRefusesBodiesThatAreNotUTF8 (issue 10): encoding/json would
// store U+FFFD for invalid bytes and lone surrogate escapes; the API
// refuses them, as the slash command and the portal do, and stores
// nothing, not even the idempotency key.
func TestAgentAPIRefusesBodiesThatAreNotUTF8(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newChatEnv(t, b, envOptions{})
		key := e.agentKey()
		prop := e.fake.Reply(mmfake.RootPostID, mmfake.TestbotID, "proposal").Id
		raw, err := json.Marshal(proposalBody(prop))
		if err != nil {
			t.Fatal(err)
		}
		good := string(raw)
		// edit puts s after the purpose's ticket number, in the JSON text.
		edit := func(s string) string { return strings.Replace(good, "INC-4211", "INC-4211"+s, 1) }
		for name, body := range map[string]string{
			"invalid byte":                  edit("\xff"),
			"truncated sequence":            edit("\xe2\x82"),
			"lone high surrogate":           edit(`\ud800`),
			"lone low surrogate":            edit(`\uDC00`),
			"high surrogate then a letter":  edit(`\ud83d\u0041`),
			"high surrogate at the end":     edit(`\ud83d`),
			"two high surrogates":           edit(`\ud83d\ud83d\ude00`),
			"in a parameter":                strings.Replace(good, "payments-api", `payments\udfff-api`, 1),
			"in a tool call's input":        strings.Replace(good, `"q":"mem"`, `"q":"m\ud800em"`, 1),
			"in a key of a tool call input": strings.Replace(good, `"q":"mem"`, `"\ud800":"mem"`, 1),
		} {
			if body == good {
				t.Fatalf("%s: the edit did not apply", name)
			}
			code, out := e.api("POST", "/api/v1/requests", key, body, map[string]string{"Idempotency-Key": "k-" + strings.ReplaceAll(name, " ", "-")})
			if code != http.StatusBadRequest || out["field"] != "body" || !strings.Contains(out["error"].(string), "valid UTF-8") {
				t.Errorf("%s: %d %v, want 400 on body saying valid UTF-8", name, code, out)
			}
		}
		if n := e.count("requests"); n != 0 {
			t.Fatalf("%d requests stored", n)
		}
		if n := e.count("agent_idempotency"); n != 0 {
			t.Fatalf("%d idempotency records stored", n)
		}

		// A real pair of surrogates (an emoji) and an escaped backslash
		// before "ud800" are text: the request is created with them.
		body := edit(`\ud83d\ude00 \\ud800`)
		code, out := e.api("POST", "/api/v1/requests", key, body, map[string]string{"Idempotency-Key": "ok"})
		if code != http.StatusCreated {
			t.Fatalf("valid text refused: %d %v", code, out)
		}
		r, err := e.svc.Get(context.Background(), out["id"].(string))
		if err != nil || r.Purpose != `OOM loop, INC-4211😀 \ud800` {
			t.Fatalf("stored purpose %q, %v", r.Purpose, err)
		}
	})
}

// TestAgentAPIRefusesFieldNamesNotSpeltAsDocumented: encoding/json matches
// field names regardless of case and keeps the last, while the idempotency
// fingerprint sorts keys by their bytes, so {"action":"a","ACTION":"b"}
// (action b) and {"ACTION":"b","action":"a"} (action a) had one
// fingerprint: a replay with the same key would have answered with the
// other request. Names must now be spelt as documented.
func TestAgentAPIRefusesFieldNamesNotSpeltAsDocumented(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		e := newChatEnv(t, b, envOptions{})
		key := e.agentKey()
		prop := e.fake.Reply(mmfake.RootPostID, mmfake.TestbotID, "proposal").Id
		raw, err := json.Marshal(proposalBody(prop))
		if err != nil {
			t.Fatal(err)
		}
		good := string(raw)
		for name, c := range map[string]struct{ body, field string }{
			"two spellings of action": {strings.Replace(good, `"action":"restart"`, `"action":"restart","ACTION":"scale"`, 1), "ACTION"},
			"one capitalised name":    {strings.Replace(good, `"purpose":`, `"Purpose":`, 1), "Purpose"},
			"in a tool call":          {strings.Replace(good, `"tool":"grafana.query"`, `"Tool":"grafana.query"`, 1), "Tool"},
		} {
			if c.body == good {
				t.Fatalf("%s: the edit did not apply", name)
			}
			code, out := e.api("POST", "/api/v1/requests", key, c.body, map[string]string{"Idempotency-Key": "k"})
			if code != http.StatusBadRequest || out["field"] != "body" || !strings.Contains(out["error"].(string), `"`+c.field+`" is not one`) {
				t.Errorf("%s: %d %v, want 400 on body naming %q", name, code, out, c.field)
			}
		}
		if n := e.count("requests"); n != 0 {
			t.Fatalf("%d requests stored", n)
		}
		if n := e.count("agent_idempotency"); n != 0 {
			t.Fatalf("%d idempotency records stored", n)
		}
	})
}
