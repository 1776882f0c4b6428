package mmfake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
)

// modelExtras are keys the v0.4.4 model types always encode that the 9.10
// server of the capture did not send. They are the only differences a
// served payload may have from a captured one.
var modelExtras = map[string]bool{
	"file_ids": true, "autotranslation": true, "banner_info": true, "policy_enforced": true,
	"policy_is_active": true, "default_category_name": true, "managed_category_name": true, "discoverable": true,
	"system_owned": true,
}

// fixtureWorld starts a fake loaded with the captured world and returns it
// with a token for testbot and one for admin.
func fixtureWorld(t *testing.T) (s *Server, botToken, adminToken string) {
	t.Helper()
	s = New(t)
	if err := s.LoadFixtures(); err != nil {
		t.Fatal(err)
	}
	return s, s.NewToken(TestbotID), s.NewToken(AdminID)
}

// getRaw fetches an API path with token and returns status and body.
func getRaw(t *testing.T, s *Server, token, path string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, s.URL()+"/api/v4"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// assertServedAs checks that served JSON carries every key and value of the
// captured fixture (keys in ignore excepted), and nothing else but the
// keys the model adds.
func assertServedAs(t *testing.T, fixture string, served []byte, ignore ...string) {
	t.Helper()
	raw, err := Fixture(fixture)
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(served, &got); err != nil {
		t.Fatalf("served body is not JSON: %v\n%s", err, served)
	}
	skip := map[string]bool{}
	for _, k := range ignore {
		skip[k] = true
	}
	var diffs []string
	compareJSON("$", want, got, skip, &diffs)
	if len(diffs) > 0 {
		sort.Strings(diffs)
		t.Errorf("served JSON differs from %s:\n%s", fixture, strings.Join(diffs, "\n"))
	}
}

func compareJSON(path string, want, got any, skip map[string]bool, diffs *[]string) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			*diffs = append(*diffs, fmt.Sprintf("%s: want object, got %T", path, got))
			return
		}
		for k, wv := range w {
			if skip[k] {
				continue
			}
			gv, ok := g[k]
			if !ok {
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: missing", path, k))
				continue
			}
			compareJSON(path+"."+k, wv, gv, skip, diffs)
		}
		for k := range g {
			if _, ok := w[k]; !ok && !modelExtras[k] && !skip[k] {
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: unexpected key", path, k))
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			*diffs = append(*diffs, fmt.Sprintf("%s: want %d items, got %v", path, len(w), got))
			return
		}
		for i := range w {
			compareJSON(fmt.Sprintf("%s[%d]", path, i), w[i], g[i], skip, diffs)
		}
	default:
		if !reflect.DeepEqual(want, got) {
			*diffs = append(*diffs, fmt.Sprintf("%s: want %v, got %v", path, want, got))
		}
	}
}

// appStatus extracts the HTTP status from a Client4 call's response.
func appStatus(resp *model.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}
