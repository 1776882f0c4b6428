package notify_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/mattermost"
	"github.com/countersign/countersign/web/mattermost/notify"
)

// The outbox load runs: a Mattermost (mmfake over real HTTP) that answers
// every call after benchLatency, reached through the real
// *mattermost.Client (model.Client4), and a backlog of about
// benchMessages chat messages: each request queues its message in carol's
// thread and a DM to each of its two approvers (three posts, plus the
// request message's update in place that carries its button).
//
//	go test ./web/mattermost/notify -run '^$' -bench 'Outbox' -benchtime 1x -count 3
//
// PostgreSQL runs need a server (COUNTERSIGN_TEST_POSTGRES).
const (
	benchLatency  = 5 * time.Millisecond
	benchMessages = 1000
	postsPerReq   = 3
)

// benchBackends are the databases measured.
var benchBackends = []struct {
	name string
	open func(testing.TB) storetest.Backend
}{{"sqlite", storetest.SQLite}, {"postgres", storetest.Postgres}}

// benchEnv is the test world with the client built as the shipped
// configuration builds it (default timeouts and retries, lookup cache on
// for 30 s), on the given database, answering after benchLatency.
func benchEnv(b *testing.B, open func(testing.TB) storetest.Backend) (*env, *mattermost.Capture) {
	b.Helper()
	e := newEnv(b, open(b))
	c, err := mattermost.New(mattermost.Config{SiteURL: e.fake.URL(), BotToken: e.fake.NewToken(e.botID), CacheTTL: 30 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	e.client = c
	capt := e.capture(b)
	e.fake.SetLatency(benchLatency)
	return e, capt
}

// shipped sets the retry settings the shipped configuration uses (the
// test worker's are shorter).
func shipped(c *notify.WorkerConfig) {
	c.BackoffBase, c.BackoffMax, c.MaxAttempts = notify.DefaultBackoffBase, notify.DefaultBackoffMax, notify.DefaultMaxAttempts
}

// backlog opens enough pending requests on capt for benchMessages posts,
// eight at a time (the way concurrent users would), and returns their ids.
func backlog(b *testing.B, e *env, capt *mattermost.Capture) []string {
	b.Helper()
	n := (benchMessages + postsPerReq - 1) / postsPerReq
	ids := make([]string, n)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 8 {
				ids[i] = e.createFrom(b, capt, fmt.Sprintf("restart %d", i), 1).ID
			}
		}()
	}
	wg.Wait()
	return ids
}

// chatWrites counts the posts Mattermost created and the posts it updated.
func chatWrites(e *env) (posts, updates int) {
	for _, r := range e.fake.Requests() {
		switch {
		case r.Method == "POST" && r.Path == "/api/v4/posts" && r.Status == http.StatusCreated:
			posts++
		case r.Method == "PUT" && r.Status == http.StatusOK:
			updates++
		}
	}
	return posts, updates
}

// barePosts sends n posts one after another from one plain HTTP client to
// the same fake, with the same latency: what one client gets without any
// outbox, database or Countersign code, and returns the rate.
func barePosts(b *testing.B, e *env, n int) float64 {
	b.Helper()
	token := e.fake.NewToken(e.botID)
	client := &http.Client{}
	body := []byte(fmt.Sprintf(`{"channel_id":%q,"message":"bare"}`, e.channel.Id))
	start := time.Now()
	for range n {
		req, err := http.NewRequest(http.MethodPost, e.fake.URL()+"/api/v4/posts", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set(model.HeaderAuth, model.HeaderBearer+" "+token)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("bare post: %d", resp.StatusCode)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// cpuTime is the CPU time (user and system) the test process has used:
// the outbox, SQLite and the in-process fake Mattermost, not PostgreSQL's
// server processes. Unlike rates, it hardly moves with the machine's load.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkOutboxThroughput drains a backlog of about 1,000 messages with
// 1, 16 (the default) and 32 deliveries in flight, and compares the rate
// of messages (posts created) with as many bare HTTP posts sent one after
// another from one client. writes/s counts the updates in place too,
// rows/s every outbox row (the approvers' expansion rows send nothing).
func BenchmarkOutboxThroughput(b *testing.B) {
	for _, backend := range benchBackends {
		for _, workers := range []int{1, notify.DefaultConcurrency, 2 * notify.DefaultConcurrency} {
			b.Run(fmt.Sprintf("db=%s/workers=%d", backend.name, workers), func(b *testing.B) {
				e, capt := benchEnv(b, backend.open)
				w := e.workerWith(b, "bench", func(c *notify.WorkerConfig) { c.Concurrency, c.Now = workers, time.Now; shipped(c) })
				var elapsed, cpu time.Duration
				var posts, updates, rows int
				for range b.N {
					b.StopTimer()
					backlog(b, e, capt)
					e.fake.ResetRequests()
					b.StartTimer()
					start, cpu0 := time.Now(), cpuTime(b)
					n, err := w.Drain(context.Background())
					if err != nil {
						b.Fatal(err)
					}
					elapsed += time.Since(start)
					cpu += cpuTime(b) - cpu0
					p, u := chatWrites(e)
					posts, updates, rows = posts+p, updates+u, rows+n
				}
				b.StopTimer()
				if left, _ := e.queue.Pending(context.Background()); left != 0 {
					b.Fatalf("%d rows left", left)
				}
				rate := float64(posts) / elapsed.Seconds()
				cpu0 := cpuTime(b)
				bare := barePosts(b, e, posts/b.N)
				bareCPU := cpuTime(b) - cpu0
				b.ReportMetric(rate, "msgs/s")
				b.ReportMetric(float64(cpu.Microseconds())/float64(posts), "cpu_µs/msg")
				b.ReportMetric(float64(bareCPU.Microseconds())/float64(posts/b.N), "bare_cpu_µs/msg")
				b.ReportMetric(float64(posts+updates)/elapsed.Seconds(), "writes/s")
				b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
				b.ReportMetric(bare, "bare_msgs/s")
				b.ReportMetric(rate/bare, "ratio")
			})
		}
	}
}

// BenchmarkOutboxRecovery queues the backlog while Mattermost is down
// (every call answered 503) with the worker running as in production (its
// own clock, default probe interval and pool), keeps Mattermost down a
// while longer (3 s, or COUNTERSIGN_BENCH_OUTAGE, e.g. 3m), then brings
// it back and measures how long until the first message arrives and until
// the backlog is drained.
func BenchmarkOutboxRecovery(b *testing.B) {
	downFor := 3 * time.Second
	if v := os.Getenv("COUNTERSIGN_BENCH_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("COUNTERSIGN_BENCH_OUTAGE: %v", err)
		}
		downFor = d
	}
	for _, backend := range benchBackends {
		b.Run("db="+backend.name, func(b *testing.B) {
			e, capt := benchEnv(b, backend.open)
			var first, drained time.Duration
			var posts, probes int
			for range b.N {
				b.StopTimer()
				chat := &countingChat{Chat: e.client}
				w := e.workerWith(b, "bench", func(c *notify.WorkerConfig) { c.Chat, c.Now = chat, time.Now; shipped(c) })
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				e.fake.Outage(http.StatusServiceUnavailable)
				go func() { defer close(done); w.Run(ctx) }()
				backlog(b, e, capt)
				time.Sleep(downFor)
				if chat.pings.Load() == 0 {
					b.Fatal("the worker never probed during the outage")
				}
				probes += int(chat.pings.Load())
				e.fake.ResetRequests()
				b.StartTimer()
				back := time.Now()
				e.fake.EndOutage()
				// A hang guard, not a measure: the drain time is reported below.
				hang, stopHang := context.WithTimeout(context.Background(), 5*time.Minute)
				for {
					left, err := e.queue.Pending(hang)
					if err != nil {
						b.Fatalf("%d rows pending when the wait ended: %v", left, err)
					}
					if left == 0 {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				stopHang()
				drained += time.Since(back)
				b.StopTimer()
				cancel()
				<-done
				firstAt := time.Time{}
				for _, r := range e.fake.Requests() {
					if r.Method == "POST" && r.Path == "/api/v4/posts" && r.Status == http.StatusCreated {
						firstAt = r.At
						break
					}
				}
				if firstAt.IsZero() {
					b.Fatal("nothing was posted after the outage")
				}
				first += firstAt.Sub(back)
				p, _ := chatWrites(e)
				posts += p
			}
			b.ReportMetric(first.Seconds()/float64(b.N), "first_delivery_s")
			b.ReportMetric(drained.Seconds()/float64(b.N), "drain_s")
			b.ReportMetric(float64(posts)/drained.Seconds(), "msgs/s")
			b.ReportMetric(float64(posts)/float64(b.N), "msgs")
			b.ReportMetric(float64(probes)/float64(b.N), "probes_during_outage")
		})
	}
}
