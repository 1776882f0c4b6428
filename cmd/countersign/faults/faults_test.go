//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models/storetest"
)

// TestKillServerSQLite kills `countersign serve` on SQLite at random
// moments under concurrent load, restarts it, and checks every promise.
func TestKillServerSQLite(t *testing.T) {
	set := loadSettings(t)
	runKillScenario(t, set, "sqlite", "", false)
}

// TestKillServerPostgres does the same on PostgreSQL (a fresh schema),
// and, when COUNTERSIGN_TEST_FAULTS_KILL_POSTGRES=1, also stops
// PostgreSQL itself (immediate mode: no checkpoint, like a crash) under
// load and starts it again.
func TestKillServerPostgres(t *testing.T) {
	set := loadSettings(t)
	b := storetest.Postgres(t)
	if !set.KillPostgres {
		t.Log("PostgreSQL itself is not killed in this run: set COUNTERSIGN_TEST_FAULTS_KILL_POSTGRES=1 (and COUNTERSIGN_TEST_FAULTS_PG_CLUSTER) when no other tests use that server")
	}
	runKillScenario(t, set, "postgres", b.DSN(), set.KillPostgres)
}

// TestTwoReplicasPostgres runs two `serve` replicas on one PostgreSQL
// schema with the mixed load spread across both (raced keys, cancels and
// redemptions land on both at once; the sweeper runs in both): no
// deadlock, one linear audit chain, one transition out of each state.
func TestTwoReplicasPostgres(t *testing.T) {
	set := loadSettings(t)
	b := storetest.Postgres(t)
	w := newWorld(t)
	d := deploy(t, w, b.DSN(), 2)
	l := newLoad(d, set.Clients, set.Seed)
	t.Logf("seed %d (COUNTERSIGN_TEST_FAULTS_SEED repeats the choices), %d clients, %d operations over 2 replicas, for at least %s so that the sweepers expire grants meanwhile", set.Seed, set.Clients, set.Ops, grantExpiry+5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	l.seedExpiring(ctx, 64, true)
	if err := l.run(ctx, set.Clients, set.Ops, set.Seed, after(start.Add(grantExpiry+5*time.Second))); err != nil {
		t.Errorf("%v; logs: %s", err, d.procs[0].logTail(10))
	}
	finish(t, set, "two replicas on postgres", d, l)
}

// runKillScenario is the kill -9 scenario on one replica.
func runKillScenario(t *testing.T, set settings, name, dsn string, killPostgres bool) {
	w := newWorld(t)
	d := deploy(t, w, dsn, 1)
	l := newLoad(d, set.Clients, set.Seed)
	t.Logf("seed %d (COUNTERSIGN_TEST_FAULTS_SEED repeats the choices), %d clients, %d operations, %d kills", set.Seed, set.Clients, set.Ops, set.Kills)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		rng := rand.New(rand.NewPCG(uint64(set.Seed), 99))
		for i := 0; i < set.Kills && ctx.Err() == nil; i++ {
			time.Sleep(time.Duration(500+rng.IntN(2000)) * time.Millisecond)
			if err := killAndRestart(l, d.procs[0], rng); err != nil {
				// The server is gone for good: stop the load too.
				t.Error(err)
				cancel()
				return
			}
		}
		if killPostgres {
			time.Sleep(time.Duration(500+rng.IntN(1500)) * time.Millisecond)
			if err := postgresOutage(l, set, d.procs[0], rng); err != nil {
				t.Error(err)
				cancel()
			}
		}
	}()
	if err := l.run(ctx, set.Clients, set.Ops, set.Seed, killerDone); err != nil {
		t.Errorf("%v; logs: %s", err, d.procs[0].logTail(10))
		cancel()
	}
	<-killerDone
	finish(t, set, name, d, l)
}

// killAndRestart sends SIGKILL to p, starts it again after a random
// pause, and records how long the service was gone.
func killAndRestart(l *load, p *proc, rng *rand.Rand) error {
	killed := time.Now()
	p.kill()
	// A real Mattermost forgets pending_post_ids after a while; forgetting
	// them now proves a message re-sent after the crash is found again,
	// not posted twice.
	l.d.w.fake.ForgetPendingPostIDs()
	time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
	if err := p.start(); err != nil {
		return fmt.Errorf("restart after kill -9: %w", err)
	}
	ready := time.Now()
	l.rec.recovered(killed, ready, true)
	l.rec.event("%s killed at %s, ready again after %s", p.name, killed.Format("15:04:05.000"), ready.Sub(killed).Round(time.Millisecond))
	return nil
}

// postgresOutage stops PostgreSQL in immediate mode (a crash: no
// checkpoint, every connection dropped), keeps it down for a moment under
// load, starts it, and waits for the server to be ready again without
// restarting it.
func postgresOutage(l *load, set settings, p *proc, rng *rand.Rand) error {
	cluster := set.PGCluster
	if len(cluster) == 0 {
		vs, err := os.ReadDir("/etc/postgresql")
		if err != nil || len(vs) == 0 {
			return fmt.Errorf("no cluster under /etc/postgresql; set COUNTERSIGN_TEST_FAULTS_PG_CLUSTER: %v", err)
		}
		names := make([]string, len(vs))
		for i, v := range vs {
			names[i] = v.Name()
		}
		sort.Strings(names)
		cluster = []string{names[len(names)-1], "main"}
	}
	ctl := func(args ...string) error {
		cmd := exec.Command("pg_ctlcluster", append([]string{"--skip-systemctl-redirect", cluster[0], cluster[1]}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("pg_ctlcluster %s %s %s: %v: %s", cluster[0], cluster[1], strings.Join(args, " "), err, out)
		}
		return nil
	}
	stopped := time.Now()
	if err := ctl("stop", "-m", "immediate"); err != nil {
		return err
	}
	time.Sleep(time.Duration(1000+rng.IntN(2000)) * time.Millisecond)
	if err := ctl("start"); err != nil {
		return err
	}
	up := time.Now()
	if _, ok := waitAll(60*time.Second, p.ready); !ok {
		return fmt.Errorf("server not ready 60s after PostgreSQL came back: %s", p.logTail(10))
	}
	ready := time.Now()
	l.rec.recovered(stopped, ready, false)
	l.rec.event("PostgreSQL stopped (immediate) at %s, accepting connections again after %s; server ready %s later (%s in all, without a restart)",
		stopped.Format("15:04:05.000"), up.Sub(stopped).Round(time.Millisecond), ready.Sub(up).Round(time.Millisecond), ready.Sub(stopped).Round(time.Millisecond))
	return nil
}

// finish lets the outbox drain, stops the replicas gracefully, checks
// every promise and reports the figures.
func finish(t *testing.T, set settings, name string, d *deployment, l *load) {
	t.Helper()
	store := openExisting(t, d.dsn)
	pending := func() int64 {
		var n int64
		if err := store.DB(context.Background()).Raw(`SELECT COUNT(*) FROM outbox_messages WHERE state = 'pending'`).Scan(&n).Error; err != nil {
			return -1
		}
		return n
	}
	drainTook, drained := waitAll(set.Drain, func() bool { return pending() == 0 })
	left := pending()
	_ = store.Close()
	d.stopAll()
	stoppedAt := time.Now()

	ok, verify := d.auditVerify()
	if !ok {
		t.Errorf("FAULT CHECK FAILED: audit verify: %s", verify)
	}
	snap := readSnapshot(t, d.dsn)
	probs := checkAll(snap, l.led, d.w, d, l.rec.during)
	deadlocks := 0
	for _, p := range d.procs {
		logs := p.logs()
		n := strings.Count(logs, "deadlock detected")
		deadlocks += n
		if n > 0 {
			probs.add("deadlocks in the server log", "%s: %d lines with \"deadlock detected\", e.g. %s", p.name, n, lineWith(logs, "deadlock detected"))
		}
		if m := panicked.FindString(logs); m != "" {
			probs.add("panic in the server log", "%s: %s", p.name, m)
		}
	}
	probs.report(t)
	for _, p := range d.procs {
		for _, line := range logSummary(p.logs(), 8) {
			t.Logf("    %s log: %s", p.name, line)
		}
	}

	outs := l.rec.outcomes()
	all := summarize(outs)
	t.Logf("=== %s: %s", name, all.line())
	var inOutage, outside []outcome
	for _, o := range outs {
		if o.class == classError || o.class == classNoAnswer {
			if l.rec.during(o) {
				inOutage = append(inOutage, o)
			} else {
				outside = append(outside, o)
			}
		}
	}
	t.Logf("    errors and missing answers during outages: %d%s", len(inOutage), kindsSuffix(summarize(inOutage).errorKinds))
	t.Logf("    errors and missing answers outside outages: %d%s", len(outside), kindsSuffix(summarize(outside).errorKinds))
	kinds, m := byKind(outs)
	for _, k := range kinds {
		t.Logf("    %-22s %s", k, summarize(m[k]).line())
	}
	if len(d.procs) > 1 {
		per := map[int][]outcome{}
		for _, o := range outs {
			per[o.replica] = append(per[o.replica], o)
		}
		for i := range d.procs {
			t.Logf("    replica %d: %s", i, summarize(per[i]).line())
		}
	}
	l.rec.mu.Lock()
	for _, e := range l.rec.events {
		t.Logf("    %s", e)
	}
	if n := len(l.rec.recoveries); n > 0 {
		var sum, worst time.Duration
		for _, r := range l.rec.recoveries {
			sum += r
			worst = max(worst, r)
		}
		t.Logf("    faults: %d server kills (kill -9), %d outages in all; recovery mean %s, max %s", l.rec.kills, n, (sum / time.Duration(n)).Round(time.Millisecond), worst.Round(time.Millisecond))
	}
	l.rec.mu.Unlock()
	deferred := 0
	for id, st := range l.led.resultAcks {
		if st != "executed" {
			deferred++
			t.Logf("    result for %s answered 200 with state %q (ending the request deferred); stored now: %s", id, st, snap.requests[id].State)
		}
	}
	if deferred > 0 {
		t.Logf("    %d result report(s) answered 200 before the request ended executed", deferred)
	}
	swept := 0
	for _, e := range snap.events {
		if e.Type == "grant.expired" {
			swept++
		}
	}
	t.Logf("    sweeper: %d unredeemed grants expired (their requests moved approved → expired)", swept)
	oc := snap.outboxCounts()
	drainWord := fmt.Sprintf("drained in %s", drainTook.Round(time.Millisecond))
	if !drained {
		drainWord = fmt.Sprintf("%d still pending after %s (not lost: queued)", left, set.Drain)
	}
	t.Logf("    requests: %d (%s); acknowledged creates %d over %d idempotency keys; audit: %s", len(snap.requests), snap.stateCounts(), len(l.led.requests), len(l.led.keys), verify)
	t.Logf("    outbox: %d done, %d pending, %d failed; %s; %d posts in Mattermost; deadlocks in logs: %d; broken promises: %d",
		oc["done"], oc["pending"], oc["failed"], drainWord, len(d.w.fake.Posts()), deadlocks, probs.count())
	if !drained {
		for _, line := range snap.pendingSummary(stoppedAt) {
			t.Logf("      still pending: %s", line)
		}
	}
}

// logSummary counts the server's ERROR log lines by message and error
// (numbers and ids blanked so alike lines group), most frequent first.
func logSummary(logs string, n int) []string {
	counts := map[string]int{}
	for _, line := range strings.Split(logs, "\n") {
		var e struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Error string `json:"error"`
		}
		if json.Unmarshal([]byte(line), &e) != nil || e.Level != "ERROR" {
			continue
		}
		key := e.Msg
		if e.Error != "" {
			key += ": " + blankIDs.ReplaceAllString(e.Error, "…")
		}
		if len(key) > 240 {
			key = key[:240] + "…"
		}
		counts[key]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return counts[keys[i]] > counts[keys[j]] || (counts[keys[i]] == counts[keys[j]] && keys[i] < keys[j])
	})
	var out []string
	for i, k := range keys {
		if i == n {
			out = append(out, fmt.Sprintf("… and %d other kinds of ERROR lines", len(keys)-n))
			break
		}
		out = append(out, fmt.Sprintf("ERROR ×%d %s", counts[k], k))
	}
	return out
}

// panicked finds a Go panic or stack dump in a log.
var panicked = regexp.MustCompile(`(?m)^(panic: .*|goroutine [0-9]+ \[.*)$`)

// blankIDs matches request ids, keys and numbers in log errors.
var blankIDs = regexp.MustCompile(`REQ-[0-9A-Z]+|run-[0-9]+/step-[0-9]+|[0-9a-f]{16,}|[0-9]{4,}`)

// lineWith returns the first log line containing s, shortened.
func lineWith(logs, s string) string {
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, s) {
			if len(line) > 300 {
				line = line[:300] + "…"
			}
			return line
		}
	}
	return ""
}
