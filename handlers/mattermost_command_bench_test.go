package handlers_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/handlers"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/mattermost/mmfake"
)

// Slash-command benchmarks: the whole path (form, token, GetUser, thread
// capture with provenance from the fake answering instantly, policy,
// SQLite insert with its audit event, JSON reply) against a bare echo
// handler returning a reply of the same size, in the same run.
//
//	go test ./handlers/ -run '^$' -bench 'SlashCommand' -benchtime 3s
//	go test ./handlers/ -run '^$' -bench 'SlashCommandPaced' -benchtime 2000x

// benchTarget is an endpoint and how to build one request to it.
type benchTarget struct {
	url  string
	form url.Values
}

func slashTarget(b *testing.B) benchTarget {
	// The lookup cache as shipped (mattermost.cache_ttl: 30s).
	e := newChatEnv(b, storetest.SQLite(b), envOptions{cacheTTL: 30 * time.Second})
	f := mmfake.CommandFields{
		TeamID: mmfake.TeamID, TeamDomain: "testteam", ChannelID: mmfake.ChannelID, ChannelName: "fixture-chan",
		UserID: mmfake.AliceID, UserName: "alice", Command: "/countersign", RootID: mmfake.RootPostID,
		Text: "restart payments-api env=prod -- OOM loop, INC-4211",
	}
	return benchTarget{url: e.url + handlers.CommandPath, form: f.Form(tokenNew)}
}

// echoTarget is a bare echo server answering the same ephemeral reply.
func echoTarget(b *testing.B) benchTarget {
	e := echo.New()
	reply := &model.CommandResponse{ResponseType: model.CommandResponseTypeEphemeral,
		Text: "**REQ-7KM3QX9A2D** `restart {\"env\":\"prod\",\"service\":\"payments-api\"}` for “OOM loop, INC-4211” — 2 approvals from approver needed, rule everything.\nReview it in Countersign: http://127.0.0.1:40000/requests/REQ-7KM3QX9A2D"}
	e.POST(handlers.CommandPath, func(c echo.Context) error { return c.JSON(http.StatusOK, reply) })
	srv := httptest.NewServer(e)
	b.Cleanup(srv.Close)
	return benchTarget{url: srv.URL + handlers.CommandPath, form: url.Values{"text": {"x"}}}
}

var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}

// once sends one command and returns its latency.
func (bt benchTarget) once(b *testing.B) time.Duration {
	start := time.Now()
	resp, err := benchClient.Post(bt.url, "application/x-www-form-urlencoded", strings.NewReader(bt.form.Encode()))
	if err != nil {
		b.Error(err)
		return 0
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "REQ-") {
		b.Errorf("HTTP %d %s", resp.StatusCode, body)
	}
	return time.Since(start)
}

// report adds p50/p99 in milliseconds and requests per second.
func report(b *testing.B, lat []time.Duration, elapsed time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
}

// throughput sends b.N commands from 32 concurrent clients.
func throughput(b *testing.B, bt benchTarget) {
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	b.SetParallelism(16)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			mine = append(mine, bt.once(b))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	report(b, lat, elapsed)
}

func BenchmarkSlashCommand(b *testing.B) {
	b.Run("countersign", func(b *testing.B) { throughput(b, slashTarget(b)) })
	b.Run("bare-echo", func(b *testing.B) { throughput(b, echoTarget(b)) })
}

// paced sends b.N commands at rate per second, each in its own goroutine
// (an open-loop load, as many Mattermost users typing at once).
func paced(b *testing.B, bt benchTarget, rate int) {
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat[i] = bt.once(b)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	report(b, lat, elapsed)
}

func BenchmarkSlashCommandPaced(b *testing.B) {
	b.Run("countersign-500rps", func(b *testing.B) { paced(b, slashTarget(b), 500) })
	b.Run("bare-echo-500rps", func(b *testing.B) { paced(b, echoTarget(b), 500) })
}
