package handlers

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/benchtest"
	"github.com/countersign/countersign/models/demodata"
	"github.com/countersign/countersign/web/session"
)

// The request pages' server-side render time on SQLite: handler, domain
// queries and template, measured per request and reported as p50/p95 (in
// milliseconds) next to Go's mean. Run:
//
//	go test ./handlers -run '^$' -bench 'Dashboard|RequestPage' -benchtime 200x
//
// The targets are p95 ≤ 20 ms (dashboard, 10,000 pending requests)
// and ≤ 30 ms (request page, 200 posts and 50 tool calls); the figures
// are in docs/BENCHMARKS.md.

// BenchmarkDashboard renders GET / for an approver while 10,000 pending
// requests (plus the demo data) are in the store: every one of them is
// actionable for alice, so the first page is full and an Older link exists.
func BenchmarkDashboard(b *testing.B) {
	f := newRequestsFixture(b, RequestsOptions{})
	now := time.Now()
	demo := demodata.Requests(now)
	createPending(b, f.svc, 10_000, func(i int) approval.NewRequest {
		in := demo[i%3] // carol's slash command, deploy-bot's proposal, bob's scale
		in.Params = map[string]any{"service": fmt.Sprintf("svc-%04d", i), "env": "prod"}
		return in
	})
	for _, v := range []models.Verdict{models.VerdictApprove, models.VerdictDeny} {
		r := f.byAction["rotate-secret"]
		if v == models.VerdictDeny {
			r = f.byAction["scale"]
		}
		f.decide(b, r, userCarol, v, "bench")
	}
	measure(b, f, userAlice, "/", "row-progress")
}

// BenchmarkRequestPage renders GET /requests/:id for an approver, for a
// request with a 200-post conversation and a 50-call tool chain: the
// summary, state line and risk flags included.
func BenchmarkRequestPage(b *testing.B) {
	f := newRequestsFixture(b, RequestsOptions{MattermostURL: "https://chat.example.com"})
	r, err := f.svc.Create(b.Context(), bigRequest(time.Now(), 200, 50))
	if err != nil {
		b.Fatal(err)
	}
	f.decide(b, r, userBob, models.VerdictApprove, "bench")
	measure(b, f, userAlice, "/requests/"+r.ID, "state-line")
}

// measure serves target as u once per iteration and reports p50 and p95.
// mustContain is a data-testid the page must hold, so a benchmark of an
// error page cannot pass for a fast one.
func measure(b *testing.B, f *requestsFixture, u *session.User, target, mustContain string) {
	b.Helper()
	var handlerErr error
	e := f.router(u, &handlerErr)
	serveOnce := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		return rec
	}
	if rec := serveOnce(); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `data-testid="`+mustContain+`"`) {
		b.Fatalf("GET %s: %d (%v)", target, rec.Code, handlerErr)
	}
	durs := make([]time.Duration, 0, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		rec := serveOnce()
		durs = append(durs, time.Since(start))
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: %d (%v)", target, rec.Code, handlerErr)
		}
	}
	b.StopTimer()
	slices.Sort(durs)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(percentile(durs, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(durs, 95)), "p95-ms")
}

// percentile returns the p-th percentile (nearest rank) of sorted durations.
func percentile(sorted []time.Duration, p int) time.Duration {
	return benchtest.Percentile(sorted, float64(p)/100)
}

// bigRequest is an agent's request with posts posts of mixed provenance and
// calls tool calls, each with a realistic JSON input and output (some long
// enough to fold, some digest-only).
func bigRequest(now time.Time, posts, calls int) approval.NewRequest {
	in := demodata.Requests(now)[1] // deploy-bot's secret rotation
	in.Posts, in.ToolCalls = nil, nil
	start := now.Add(-time.Duration(posts+calls) * time.Second)
	for i := range posts {
		p := models.ConversationPost{PostSnapshot: models.PostSnapshot{PostID: fmt.Sprintf("post%022d", i), RootID: fmt.Sprintf("post%022d", 0),
			AuthorID: demodata.Bob.ID, AuthorName: "bob", AuthorKind: models.AuthorHuman, ChannelMember: true,
			Message:  fmt.Sprintf("step %d: checked the pods of payments-api in prod, %d restarts in the last hour; logs show OOMKilled again. <details> follow in the runbook.", i, i%7),
			CreateAt: start.Add(time.Duration(i) * time.Second).UnixMilli()},
		}
		if i == 0 {
			p.RootID = ""
		}
		switch i % 10 {
		case 3:
			p.AuthorID, p.AuthorName, p.AuthorKind, p.BotOwnerID = demodata.DeployBot.ID, "deploy-bot", models.AuthorBot, demodata.Dave.ID
		case 5:
			p.AuthorID, p.AuthorName, p.AuthorKind, p.FromWebhook, p.OverrideUsername = demodata.Dave.ID, "dave", models.AuthorWebhook, true, "alice"
			p.Message = "Approved ✅ go ahead"
		case 7:
			p.EditAt = p.CreateAt + 30_000
		case 9:
			p.ChannelMember = false
		}
		in.Posts = append(in.Posts, p)
	}
	for i := range calls {
		c := models.ToolCall{
			CallID: fmt.Sprintf("call-%03d", i), Tool: []string{"k8s.get_pods", "ci.get_job_log", "vault.read_metadata", "policy.dry_run"}[i%4],
			Input:     fmt.Sprintf(`{"namespace":"payments","selector":"app=payments-api","step":%d,"fields":["status","restarts","node"]}`, i),
			Output:    fmt.Sprintf(`{"items":[{"name":"payments-api-%d-a","restarts":%d,"node":"n1"},{"name":"payments-api-%d-b","restarts":0,"node":"n2"}],"truncated":false}`, i, i%5, i),
			Status:    models.ToolCallOK,
			StartedAt: start.Add(time.Duration(i) * time.Second), EndedAt: start.Add(time.Duration(i)*time.Second + 420*time.Millisecond),
		}
		if i > 0 {
			c.ParentID = fmt.Sprintf("call-%03d", i-1)
		}
		switch i % 10 {
		case 4:
			var long strings.Builder
			long.WriteString(`{"lines":[`)
			for j := range 40 {
				if j > 0 {
					long.WriteString(",")
				}
				fmt.Fprintf(&long, `"2026-11-27T08:%02d:00Z payments-api OOMKilled container=%d"`, j, j)
			}
			long.WriteString(`]}`)
			c.Output = long.String()
		case 8:
			c.Output, c.OutputDigest = "", "sha256:"+strings.Repeat("ab", 32)
		}
		in.ToolCalls = append(in.ToolCalls, c)
	}
	return in
}
