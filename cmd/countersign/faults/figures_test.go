//go:build faults

package faults

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models/storetest"
)

// BenchmarkFigures measures the load figures of docs/BENCHMARKS.md against
// the built binary over HTTP, side by side in one run:
//
//	go test -tags faults -run '^$' -bench Figures -benchtime 1x -timeout 60m ./cmd/countersign/faults
//
// Each sub-benchmark deploys afresh, drives its load once (b.N is not
// used: a run is a fixed number of operations) and reports its figures as
// metrics; the last lines print them as one table. Every run is also
// checked like the fault suite, and the broken promises are counted.
func BenchmarkFigures(b *testing.B) {
	set := loadSettings(b)
	ops := envInt("COUNTERSIGN_TEST_FAULTS_BENCH_OPS", 800)
	mixedOps := envInt("COUNTERSIGN_TEST_FAULTS_MIXED_OPS", 1000)
	rounds := envInt("COUNTERSIGN_TEST_FAULTS_SAMEKEY_ROUNDS", 20)
	var rows []figureRow
	var mu sync.Mutex
	addRow := func(r figureRow) {
		mu.Lock()
		defer mu.Unlock()
		rows = append(rows, r)
	}
	backends := []string{"sqlite", "postgres"}
	for _, kind := range []string{"agent", "slash"} {
		for _, be := range backends {
			b.Run(fmt.Sprintf("%s-create-%d/%s", kind, set.Clients, be), func(b *testing.B) {
				addRow(benchCreate(b, set, kind, be, ops))
			})
		}
	}
	for _, be := range []string{"sqlite", "postgres", "postgres-2-replicas"} {
		b.Run("same-key-100/"+be, func(b *testing.B) {
			addRow(benchSameKey(b, set, be, 100, rounds))
		})
	}
	// One and two replicas alternate, pairs times: on a shared machine
	// the tail moves between runs, and a pair measured back to back is
	// the fairest comparison.
	pairs := envInt("COUNTERSIGN_TEST_FAULTS_MIXED_PAIRS", 2)
	for i := 1; i <= pairs; i++ {
		b.Run(fmt.Sprintf("mixed-%d/postgres/pair-%d", mixedOps, i), func(b *testing.B) {
			one := benchMixed(b, set, 1, mixedOps)
			two := benchMixed(b, set, 2, mixedOps)
			if one.p99 > 0 {
				two.note += fmt.Sprintf("; p99 %.2f× one replica (pair %d)", float64(two.p99)/float64(one.p99), i)
				b.ReportMetric(float64(two.p99)/float64(one.p99), "p99-2r/1r")
			}
			addRow(one)
			addRow(two)
		})
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\nmachine: %d CPUs (nproc), %s; %s; seed %d\n\n", runtime.NumCPU(), cpuModel(), runtime.Version(), set.Seed)
	sb.WriteString("| scenario | ops | ok | errors | p50 | p99 | throughput | notes |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&sb, "| %s | %d | %d | %d | %s | %s | %.0f/s | %s |\n", r.name, r.ops, r.ok, r.errors, ms(r.p50), ms(r.p99), r.throughput, r.note)
	}
	// Benchmark logs are cut to 10 lines by the testing package: print.
	fmt.Print(sb.String())
}

// figureRow is one line of the figures table.
type figureRow struct {
	name            string
	ops, ok, errors int
	p50, p99        time.Duration
	throughput      float64
	note            string
	brokenPromises  int
	deadlocks       int
}

// backendDSN returns "" (SQLite) or a fresh PostgreSQL schema.
func backendDSN(b *testing.B, be string) string {
	if strings.HasPrefix(be, "postgres") {
		return storetest.Postgres(b).DSN()
	}
	return ""
}

// report turns stats into metrics and a row.
// suffix tells apart the metrics of two runs in one sub-benchmark.
func report(b *testing.B, name, suffix string, s stats) figureRow {
	b.ReportMetric(s.throughput, "ops/s"+suffix)
	b.ReportMetric(float64(s.p50.Microseconds())/1000, "p50-ms"+suffix)
	b.ReportMetric(float64(s.p99.Microseconds())/1000, "p99-ms"+suffix)
	b.ReportMetric(float64(s.errors+s.noAnswer), "errors"+suffix)
	return figureRow{name: name, ops: s.ops, ok: s.ack + s.refused, errors: s.errors + s.noAnswer, p50: s.p50, p99: s.p99, throughput: s.throughput}
}

// settle stops the deployment, checks it like the fault suite and
// returns the number of broken promises and deadlock lines.
func settle(b *testing.B, d *deployment, l *load) (broken, deadlocks int, snap *snapshot) {
	d.stopAll()
	if ok, out := d.auditVerify(); !ok {
		fmt.Printf("%s: audit verify: %s\n", b.Name(), out)
		broken++
	}
	snap = readSnapshot(b, d.dsn)
	p := checkAll(snap, l.led, d.w, d, l.rec.during)
	for _, pr := range d.procs {
		deadlocks += strings.Count(pr.logs(), "deadlock detected")
	}
	if n := p.count(); n > 0 {
		fmt.Printf("%s: %d broken promises:\n", b.Name(), n)
		p.report(logOnly{b})
	}
	return broken + p.count(), deadlocks, snap
}

// logOnly turns a problems report into log lines: a benchmark reports the
// figures it measured (broken promises included) rather than failing.
type logOnly struct{ *testing.B }

func (l logOnly) Errorf(format string, a ...any) { fmt.Printf("  "+format+"\n", a...) }

// createMix makes only creates of kind: half approved at once (staging),
// half waiting for approval (prod).
func createMix(kind string) mix {
	if kind == "agent" {
		return mix{agentStaging: 1, agentProd: 1}
	}
	return mix{slashStaging: 1, slashProd: 1}
}

// benchCreate: 16 clients creating requests through the slash command or
// the agent API (distinct Idempotency-Keys), then the same clients
// against a bare echo handler that parses the same form or JSON and
// answers.
func benchCreate(b *testing.B, set settings, kind, be string, ops int) figureRow {
	w := newWorld(b)
	d := deploy(b, w, backendDSN(b, be), 1)
	l := newLoad(d, set.Clients, set.Seed)
	l.mix = createMix(kind)
	if err := l.run(context.Background(), set.Clients, ops, set.Seed, nil); err != nil {
		b.Fatal(err)
	}
	s := summarize(l.rec.outcomes())
	row := report(b, fmt.Sprintf("%s create, %d clients, %s", kind, set.Clients, be), "", s)
	broken, _, _ := settle(b, d, l)

	echo := newEcho(b)
	el := newLoad(&deployment{t: b, w: w, procs: []*proc{{base: echo.URL}}, apiKey: "echo"}, set.Clients, set.Seed)
	el.mix = createMix(kind)
	if err := el.run(context.Background(), set.Clients, ops, set.Seed, nil); err != nil {
		b.Fatal(err)
	}
	es := summarize(el.rec.outcomes())
	ratio := s.throughput / es.throughput
	b.ReportMetric(es.throughput, "echo-ops/s")
	b.ReportMetric(float64(es.p99.Microseconds())/1000, "echo-p99-ms")
	b.ReportMetric(ratio, "throughput/echo")
	b.ReportMetric(float64(broken), "broken-promises")
	row.brokenPromises = broken
	row.note = fmt.Sprintf("echo handler: %.0f/s, p99 %s → %.1f%% of its throughput, p99 %.0f×; errors%s; broken promises %d",
		es.throughput, ms(es.p99), 100*ratio, float64(s.p99)/float64(max(es.p99, time.Microsecond)), kindsOrNone(s), broken)
	return row
}

func kindsOrNone(s stats) string {
	if len(s.errorKinds) == 0 {
		return ": none"
	}
	return kindsSuffix(s.errorKinds)
}

// benchSameKey: rounds times, width clients send one Idempotency-Key and
// body at the same instant (over two replicas for "postgres-2-replicas").
// The promise is one request per key.
func benchSameKey(b *testing.B, set settings, be string, width, rounds int) figureRow {
	replicas := 1
	if strings.HasSuffix(be, "2-replicas") {
		replicas = 2
	}
	w := newWorld(b)
	d := deploy(b, w, backendDSN(b, be), replicas)
	l := newLoad(d, width, set.Seed)
	var keys []*keyRecord
	for i := 0; i < rounds; i++ {
		k := l.newAgentKey([]string{"staging", "prod"}[i%2])
		keys = append(keys, k)
		l.sameKeyRace(context.Background(), k, width, 0)
	}
	s := summarize(l.rec.outcomes())
	row := report(b, fmt.Sprintf("same key ×%d at once, %s", width, be), "", s)
	broken, _, snap := settle(b, d, l)
	dupKeys, extra, maxIDs, grants := 0, 0, 0, 0
	for _, k := range keys {
		ids := snap.byPurpose[k.purpose]
		if len(ids) > 1 {
			dupKeys++
			extra += len(ids) - 1
		}
		maxIDs = max(maxIDs, len(k.acked))
		for _, id := range ids {
			if _, ok := snap.grants[id]; ok {
				grants++
			}
		}
	}
	b.ReportMetric(float64(dupKeys), "keys-with-2+-requests")
	b.ReportMetric(float64(broken), "broken-promises")
	row.brokenPromises = broken
	row.note = fmt.Sprintf("%d keys × %d racers: %d keys made more than one request (%d extra requests), at most %d different ids answered for one key, %d grants for %d keys (half auto-approved); errors%s; broken promises %d",
		rounds, width, dupKeys, extra, maxIDs, grants, rounds, kindsOrNone(s), broken)
	return row
}

// benchMixed: the fault suite's mixed load (agent and slash creates,
// raced keys, cancels, redemptions with results, grants expiring into
// the sweeper) on one or two replicas of one PostgreSQL, without faults.
func benchMixed(b *testing.B, set settings, replicas, ops int) figureRow {
	w := newWorld(b)
	d := deploy(b, w, backendDSN(b, "postgres"), replicas)
	l := newLoad(d, set.Clients, set.Seed)
	// 200 grants that expire into the sweepers during the measured load
	// (they expire 40–45 s after their creation; the load takes 10–20 s).
	l.seedExpiring(context.Background(), 200, false)
	time.Sleep(grantExpiry - 15*time.Second)
	if err := l.run(context.Background(), set.Clients, ops, set.Seed, nil); err != nil {
		b.Fatal(err)
	}
	s := summarize(l.rec.outcomes())
	row := report(b, fmt.Sprintf("mixed load, %d clients, %d replica(s) on postgres", set.Clients, replicas), fmt.Sprintf("-%dr", replicas), s)
	broken, deadlocks, snap := settle(b, d, l)
	swept := 0
	for _, e := range snap.events {
		if e.Type == "grant.expired" {
			swept++
		}
	}
	b.ReportMetric(float64(deadlocks), fmt.Sprintf("deadlocks-%dr", replicas))
	b.ReportMetric(float64(broken), fmt.Sprintf("broken-promises-%dr", replicas))
	row.brokenPromises, row.deadlocks = broken, deadlocks
	row.note = fmt.Sprintf("%d \"deadlock detected\" log lines; %d grants expired by the sweepers during or after the load; errors%s; broken promises %d", deadlocks, swept, kindsOrNone(s), broken)
	return row
}

// newEcho is the baseline: a bare handler answering the same slash-command
// form (token checked in constant time, form parsed, an ephemeral reply)
// and the same agent JSON (body bounded and decoded, a 201 with an id).
func newEcho(b *testing.B) *httptest.Server {
	var n atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /hooks/mattermost/command", func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("token")), []byte(commandToken)) != 1 {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(&model.CommandResponse{ResponseType: model.CommandResponseTypeEphemeral,
			Text: fmt.Sprintf("**REQ-E%09d** echo: %s", n.Add(1), r.PostForm.Get("text"))})
	})
	mux.HandleFunc("POST /api/v1/requests", func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		var body map[string]any
		if err != nil || json.Unmarshal(raw, &body) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"id": fmt.Sprintf("REQ-E%09d", n.Add(1)), "state": "pending", "action": body["action"]})
	})
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	return srv
}

// cpuModel is the CPU model name (what lscpu shows as "Model name").
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
