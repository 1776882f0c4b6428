package handlers

import (
	"bufio"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit/search"
	"github.com/countersign/countersign/models/audit/search/searchtest"
	"github.com/countersign/countersign/web/session"
)

// BenchmarkAuditServerRSS1M serves the audit search over a 1,000,000-event
// log on a real HTTP listener in this process and loads it with 8
// concurrent clients (random actor + purpose searches, every 20th request
// a full CSV export streamed and discarded), then reports the process's
// resident memory from /proc/self/status: VmHWM (peak), VmRSS and RssAnon
// (heap and stacks, without the mapped database file) in MB. The clients
// run in the same process, so the figures are an upper bound for the
// server alone.
func BenchmarkAuditServerRSS1M(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			st := searchtest.Large(b, backend, searchtest.MillionEvents)
			h := NewAuditLog(search.NewSearcher(st), AuditLogOptions{Requests: approval.New(st, approval.Config{}), MattermostURL: "https://chat.example.com"})
			e := echo.New()
			e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error { session.WithUser(c, userAuditorRole); return next(c) }
			})
			e.GET("/audit", h.Search)
			e.GET("/audit/export.csv", h.ExportCSV)
			srv := httptest.NewServer(e)
			defer srv.Close()
			actors := searchtest.LargeActors()
			runtime.GC()
			b.ResetTimer()
			var next int64
			var mu sync.Mutex
			var wg sync.WaitGroup
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(w), 9))
					for {
						mu.Lock()
						i := next
						next++
						mu.Unlock()
						if i >= int64(b.N) {
							return
						}
						target := srv.URL + "/audit?" + url.Values{
							"actor":   {actors[rng.IntN(len(actors))]},
							"purpose": {searchtest.Verbs[rng.IntN(len(searchtest.Verbs))] + " " + searchtest.Services[rng.IntN(len(searchtest.Services))]},
						}.Encode()
						if i%20 == 19 {
							target = srv.URL + "/audit/export.csv?purpose=" + searchtest.Verbs[rng.IntN(len(searchtest.Verbs))]
						}
						resp, err := http.Get(target)
						if err != nil {
							b.Error(err)
							return
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						_ = resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							b.Errorf("%s: %d", target, resp.StatusCode)
							return
						}
					}
				}(w)
			}
			wg.Wait()
			b.StopTimer()
			status := procStatus(b)
			for _, k := range []string{"VmHWM", "VmRSS", "RssAnon"} {
				b.ReportMetric(status[k]/1024, k+"-MB")
			}
		})
	}
}

// procStatus reads the kB figures of /proc/self/status.
func procStatus(b *testing.B) map[string]float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 2 && fields[1] == "kB" {
			n, _ := strconv.ParseFloat(fields[0], 64)
			out[k] = n
		}
	}
	return out
}
