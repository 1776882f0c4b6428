package searchload

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countersign/countersign/models/audit/search/searchtest"
	"github.com/countersign/countersign/models/benchtest"
	"github.com/countersign/countersign/web/demoidp/demoidptest"
)

// BenchmarkSearchServer1M loads the audit search of the running binary
// over a 1,000,000-event log with 8 and with 32 concurrent clients, on
// SQLite and on PostgreSQL. Each search is GET /audit with an actor (any
// capacity) and two purpose words drawn at random from the generated
// population, first page, as an auditor's browser sends it; b.N is the
// number of searches per client count. 300 searches warm the server's
// caches first. Reported: p50/p95/p99-ms (seen by the clients, request
// sent to page read), req/s, server CPU per search (cpu-ms/op, from
// /proc), the server's resident memory at the end of the load (VmRSS,
// RssAnon: heap and stacks, RssFile: mapped files) and its peak (VmHWM),
// the hits per search (so a plan that finds nothing cannot look fast) and
// the machine's load average before the run.
//
//	go test ./cmd/countersign/searchload -run '^$' -bench SearchServer1M -benchtime 2000x -timeout 60m
func BenchmarkSearchServer1M(b *testing.B) {
	bins := binaries(b)
	// Each backend's server always listens on the same port (see
	// startServer).
	for _, be := range []struct {
		backend string
		port    int
	}{{"sqlite", 38431}, {"postgres", 38432}} {
		backend, port := be.backend, be.port
		for _, bin := range bins {
			name := backend
			if len(bins) > 1 {
				name += "/bin=" + bin.name
			}
			b.Run(name, func(b *testing.B) { benchServer(b, backend, bin.path, port) })
		}
	}
}

// benchServer starts the server over backend's log and measures it with
// 8 and 32 clients.
func benchServer(b *testing.B, backend, bin string, port int) {
	dsn := searchtest.LargeDSN(b, backend, searchtest.MillionEvents)
	srv := startServer(b, bin, dsn, filepath.Join(searchtest.BenchDir(b), "serve-data-"+backend), port)
	cookies := srv.signIn(b, "dave")
	srv.waitIdle(b, 3*time.Minute)
	warm := runLoad(b, srv, cookies, 8, 300, 7)
	if warm.errs > 0 {
		b.Fatalf("warm-up: %d failed searches: %s", warm.errs, warm.firstErr)
	}
	for _, clients := range []int{8, 32} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			load := loadAverage(b)
			cpu0 := srv.cpu(b)
			b.ResetTimer()
			res := runLoad(b, srv, cookies, clients, b.N, uint64(clients))
			b.StopTimer()
			if res.errs > 0 {
				b.Fatalf("%d of %d searches failed: %s", res.errs, b.N, res.firstErr)
			}
			if b.N >= 50 && res.hits == 0 {
				b.Fatal("no search found anything")
			}
			mem := srv.memory(b)
			slices.Sort(res.latencies)
			b.ReportMetric(percentile(res.latencies, 0.50), "p50-ms")
			b.ReportMetric(percentile(res.latencies, 0.95), "p95-ms")
			b.ReportMetric(percentile(res.latencies, 0.99), "p99-ms")
			b.ReportMetric(float64(b.N)/res.wall.Seconds(), "req/s")
			b.ReportMetric(float64((srv.cpu(b)-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(res.hits)/float64(b.N), "hits/op")
			for _, k := range []string{"VmRSS", "RssAnon", "RssFile", "VmHWM"} {
				b.ReportMetric(mem[k]/1024, k+"-MB")
			}
			b.ReportMetric(load, "load1")
		})
	}
}

// binary is a countersign executable to measure.
type binary struct{ name, path string }

// binaries returns the executables to measure: the working tree's, built
// now, or the ones COUNTERSIGN_TEST_SEARCHLOAD_BINS names
// ("old=/tmp/countersign-old,new=/tmp/countersign-new"), measured one after
// the other in the same run so that their figures share the machine's
// load. (COUNTERSIGN_TEST_ variables are ignored by countersign serve.)
func binaries(b *testing.B) []binary {
	spec := os.Getenv("COUNTERSIGN_TEST_SEARCHLOAD_BINS")
	if spec == "" {
		return []binary{{name: "tree", path: buildBinary(b)}}
	}
	var out []binary
	for _, part := range strings.Split(spec, ",") {
		name, path, ok := strings.Cut(part, "=")
		if !ok || name == "" || path == "" {
			b.Fatalf("COUNTERSIGN_TEST_SEARCHLOAD_BINS: %q is not name=path", part)
		}
		out = append(out, binary{name: name, path: path})
	}
	return out
}

// signIn signs username in at the identity provider through the portal's
// /login and returns the portal's session cookies.
func (s *server) signIn(b *testing.B, username string) []*http.Cookie {
	b.Helper()
	br := demoidptest.NewTestBrowser(b, s.idp)
	get := func(target string) *http.Response {
		resp, err := br.Client().Get(target)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp
	}
	resp := get(s.base + "/login")
	if resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("/login: %d\n%s", resp.StatusCode, s.logTail())
	}
	u := s.users[username]
	cb, err := br.Login(context.Background(), resp.Header.Get("Location"), demoidptest.Credentials{Username: u.Username, Password: u.Password, SkipTOTP: true})
	if err != nil {
		b.Fatalf("sign in %s: %v", username, err)
	}
	if resp := get(cb.String()); resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("callback: %d\n%s", resp.StatusCode, s.logTail())
	}
	base, _ := url.Parse(s.base)
	cookies := br.Client().Jar.Cookies(base)
	if len(cookies) == 0 {
		b.Fatal("no session cookie after sign-in")
	}
	return cookies
}

// loadResult is what one load run saw.
type loadResult struct {
	latencies []time.Duration
	wall      time.Duration
	hits      int64
	errs      int64
	firstErr  string
}

// runLoad sends n searches from clients concurrent clients (closed loop:
// each sends its next search when the last one's page has been read) and
// collects every latency.
func runLoad(b *testing.B, s *server, cookies []*http.Cookie, clients, n int, seed uint64) *loadResult {
	b.Helper()
	transport := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients, IdleConnTimeout: time.Minute}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	actors := searchtest.LargeActors()
	res := &loadResult{latencies: make([]time.Duration, 0, n)}
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			mine := make([]time.Duration, 0, n/clients+1)
			var hits int64
			defer func() {
				mu.Lock()
				res.latencies = append(res.latencies, mine...)
				res.hits += hits
				mu.Unlock()
			}()
			for next.Add(1) <= int64(n) {
				q := url.Values{
					"actor":   {actors[rng.IntN(len(actors))]},
					"purpose": {searchtest.Verbs[rng.IntN(len(searchtest.Verbs))] + " " + searchtest.Services[rng.IntN(len(searchtest.Services))]},
				}
				t0 := time.Now()
				found, err := search(client, s.base+"/audit?"+q.Encode(), cookies)
				mine = append(mine, time.Since(t0))
				if err != nil {
					mu.Lock()
					if res.errs == 0 {
						res.firstErr = err.Error()
					}
					res.errs++
					mu.Unlock()
					continue
				}
				hits += int64(found)
			}
		}(w)
	}
	wg.Wait()
	res.wall = time.Since(start)
	return res
}

// search sends one search and reads the whole page; it returns the
// number of result rows on it.
func search(client *http.Client, target string, cookies []*http.Cookie) (int, error) {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return 0, err
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("read page: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: HTTP %d", target, resp.StatusCode)
	}
	return strings.Count(string(body), `data-testid="audit-row"`), nil
}

// percentile returns the q-quantile of sorted samples in milliseconds.
func percentile(sorted []time.Duration, q float64) float64 {
	return float64(benchtest.Percentile(sorted, q)) / float64(time.Millisecond)
}
