package exampleexecutor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/countersign/countersign/handlers"
	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/execution"
	"github.com/countersign/countersign/models/grant/granttest"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/exampleexecutor"
	"github.com/countersign/countersign/web/executor"
)

const token = "example-executor-credential"

func post(t *testing.T, url, bearer string, body any) (*http.Response, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp, out
}

func TestExampleExecutorVerifiesAgainstJWKSEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		var h http.Handler = http.NotFoundHandler()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
		defer srv.Close()
		store := b.Open(t)
		env := granttest.NewIssuer(t, store, srv.URL, execution.Hook())
		env.Terms.Executor = exampleexecutor.DefaultName
		// The executor's own clock is the wall clock; the portal's starts there too.
		env.Clock.Advance(time.Now().UTC().Sub(env.Clock.Now()))
		ex, err := exampleexecutor.New(exampleexecutor.Config{Name: exampleexecutor.DefaultName, Issuer: srv.URL, Token: token})
		if err != nil {
			t.Fatal(err)
		}
		e, err := handlers.New(handlers.Options{
			Logger: slog.New(slog.DiscardHandler), DB: store, Registry: prometheus.NewRegistry(), PublicURL: srv.URL,
			Grants:          &handlers.GrantEndpoints{Grants: env.Grants, Executors: execution.NewCredentials(map[string]string{exampleexecutor.DefaultName: token})},
			ExampleExecutor: ex,
		})
		if err != nil {
			t.Fatal(err)
		}
		h = e

		resp, err := http.Get(srv.URL + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		var set struct{ Keys []map[string]any }
		_ = json.NewDecoder(resp.Body).Decode(&set)
		resp.Body.Close()
		if len(set.Keys) != 1 || set.Keys[0]["kty"] != "OKP" || set.Keys[0]["crv"] != "Ed25519" || set.Keys[0]["d"] != nil ||
			!strings.Contains(resp.Header.Get("Cache-Control"), "max-age") {
			t.Fatalf("JWKS %v (%s)", set, resp.Header.Get("Cache-Control"))
		}

		svc := execution.New(store, env.Approvals, env.Grants, env.Clock.Now)
		d := executor.NewDispatcher(svc, executor.Config{Executors: map[string]executor.Executor{
			exampleexecutor.DefaultName: {URL: srv.URL + handlers.ExampleExecutorPath, Timeout: 10 * time.Second},
		}})
		r := env.Approved(t, granttest.Human)
		if _, err := d.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		got, _ := env.Approvals.Get(ctx, r.ID)
		rec, _ := svc.Get(ctx, r.ID)
		if got.State != models.StateExecuted || rec == nil || !strings.Contains(rec.Output, `"ran":"restart"`) {
			t.Fatalf("request %s, execution %+v", got.State, rec)
		}
		runs := ex.Runs()
		if len(runs) != 1 || runs[0].RequestID != r.ID {
			t.Fatalf("runs %+v", runs)
		}

		// A retry of the same job is answered from memory: no second run,
		// and Countersign would refuse a second redemption anyway.
		tok, _ := env.Grants.Token(ctx, r.ID)
		job := map[string]any{"request_id": r.ID, "action": r.Action, "params": json.RawMessage(r.Params), "grant": tok}
		if resp, out := post(t, srv.URL+handlers.ExampleExecutorPath, "", job); resp.StatusCode != 200 || out["status"] != "succeeded" || len(ex.Runs()) != 1 {
			t.Fatalf("retry: %d %v, %d runs", resp.StatusCode, out, len(ex.Runs()))
		}
		resp2, out := post(t, srv.URL+"/api/v1/grants/redeem", token, map[string]any{"grant": tok, "params": json.RawMessage(r.Params)})
		if resp2.StatusCode != http.StatusConflict || out["reason"] != "replayed" {
			t.Fatalf("second redemption: %d %v", resp2.StatusCode, out)
		}

		// Tampered parameters and a forged grant never run.
		r2, tok2 := env.Issued(t, granttest.Human)
		bad := map[string]any{"request_id": r2.ID, "action": r2.Action, "params": map[string]any{"env": "prod", "replicas": 30, "service": "payments-api"}, "grant": tok2}
		if resp, out := post(t, srv.URL+handlers.ExampleExecutorPath, "", bad); resp.StatusCode != http.StatusForbidden || !strings.Contains(out["error"].(string), "params") {
			t.Fatalf("tampered params: %d %v", resp.StatusCode, out)
		}
		parts := strings.Split(tok2, ".")
		forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
		bad = map[string]any{"request_id": r2.ID, "action": r2.Action, "params": json.RawMessage(r2.Params), "grant": forged}
		if resp, _ := post(t, srv.URL+handlers.ExampleExecutorPath, "", bad); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("forged grant: %d", resp.StatusCode)
		}
		if len(ex.Runs()) != 1 {
			t.Fatal("a rejected job ran")
		}
		// The redeem API wants the executor's credential, and the executor
		// named by it must be the grant's audience.
		if resp, out := post(t, srv.URL+"/api/v1/grants/redeem", "wrong", map[string]any{"grant": tok2, "params": json.RawMessage(r2.Params)}); resp.StatusCode != 401 || out["reason"] != "unauthenticated" {
			t.Fatalf("bad credential: %d %v", resp.StatusCode, out)
		}
		if resp, out := post(t, srv.URL+"/api/v1/grants/redeem", token, map[string]any{"grant": tok2}); resp.StatusCode != 400 || out["reason"] != "invalid" {
			t.Fatalf("no params: %d %v", resp.StatusCode, out)
		}
		env.Terms.Executor = "deployer"
		r3, tok3 := env.Issued(t, granttest.Human)
		if resp, out := post(t, srv.URL+"/api/v1/grants/redeem", token, map[string]any{"grant": tok3, "params": json.RawMessage(r3.Params)}); resp.StatusCode != 403 || out["reason"] != "wrong_audience" {
			t.Fatalf("wrong audience: %d %v", resp.StatusCode, out)
		}
		if n := len(env.Events(t, "grant.refused")); n != 2 { // the replay and the wrong audience
			t.Fatalf("%d refusals audited", n)
		}
		// And the good one still redeems once, through the executor.
		good := map[string]any{"request_id": r2.ID, "action": r2.Action, "params": json.RawMessage(r2.Params), "grant": tok2}
		if resp, out := post(t, srv.URL+handlers.ExampleExecutorPath, "", good); resp.StatusCode != 200 || out["status"] != "succeeded" || len(ex.Runs()) != 2 {
			t.Fatalf("good job: %d %v", resp.StatusCode, out)
		}
	})
}
