package main

import (
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// loadEnv turns on TestRealSlashCommandLoad, a measurement rather than a
// check (docs/BENCHMARKS.md, issue 11).
const loadEnv = "COUNTERSIGN_TEST_MATTERMOST_LOAD"

// TestRealSlashCommandLoad measures the slash command as the real server
// sees it: 200 /countersign restart commands, 20 per second on a fixed
// schedule (a late answer does not delay the next command), each through
// POST /api/v4/commands/execute and back, with Countersign capturing the
// channel and storing a request each time while its outbox posts the
// request messages and DMs. It reports p50, p99, the maximum and the
// commands that got no request (Countersign's own 2.5 s deadline on its
// calls to Mattermost ends some under load); it fails on nothing that
// depends on time.
//
//	COUNTERSIGN_TEST_MATTERMOST_LOAD=1 go test -run TestRealSlashCommandLoad -v ./cmd/countersign
func TestRealSlashCommandLoad(t *testing.T) {
	if os.Getenv(loadEnv) != "1" {
		t.Skipf("a measurement: set %s=1 to run it", loadEnv)
	}
	const n, perSecond = 200, 20
	e := newRealEnv(t)
	people := []string{"alice", "carol"}
	for _, p := range people {
		e.w.Post(e.person(p), e.w.Channel.Id, p+" here: api is slow")
	}
	lat := make([]time.Duration, n)
	errs := make([]string, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / perSecond)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			resp, err := e.w.ExecuteCommand(e.person(people[i%2]), e.w.Channel.Id, "/countersign restart api staging -- load", "")
			lat[i] = time.Since(t0)
			switch {
			case err != nil:
				errs[i] = err.Error()
			case !requestIDPattern.MatchString(resp.Text):
				errs[i] = resp.Text
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	failed := 0
	for i, msg := range errs {
		if msg != "" {
			failed++
			if failed <= 5 {
				t.Logf("command %d: %s", i, strings.SplitN(msg, "\n", 2)[0])
			}
		}
	}
	sorted := slices.Clone(lat)
	slices.Sort(sorted)
	pct := func(p float64) time.Duration {
		return sorted[int(p*float64(len(sorted)-1))].Round(100 * time.Microsecond)
	}
	t.Logf("%d commands at %d/s in %s (%d failed): p50 %s, p90 %s, p99 %s, max %s",
		n, perSecond, wall.Round(time.Millisecond), failed, pct(0.50), pct(0.90), pct(0.99), sorted[len(sorted)-1].Round(100*time.Microsecond))
	// The part Countersign spends (its access log), to tell it from
	// Mattermost's part of the round trip.
	// The access log gives each command's time in the handler and, within
	// it, the time spent waiting for Mattermost's API (mattermost_ms):
	// the difference is Countersign's own share.
	var handler, waited, own []float64
	for _, line := range strings.Split(e.log.String(), "\n") {
		var rec struct {
			Path         string  `json:"path"`
			LatencyMS    float64 `json:"latency_ms"`
			MattermostMS float64 `json:"mattermost_ms"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Path == "/hooks/mattermost/command" {
			handler = append(handler, rec.LatencyMS)
			waited = append(waited, rec.MattermostMS)
			own = append(own, rec.LatencyMS-rec.MattermostMS)
		}
	}
	for _, s := range []struct {
		what string
		v    []float64
	}{{"Countersign's handler", handler}, {"  waiting for Mattermost's API", waited}, {"  Countersign's own share", own}} {
		if len(s.v) == 0 {
			continue
		}
		slices.Sort(s.v)
		q := func(p float64) float64 { return s.v[int(p*float64(len(s.v)-1))] }
		t.Logf("%s (%d calls): p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms", s.what, len(s.v), q(0.5), q(0.9), q(0.99), s.v[len(s.v)-1])
	}
}

// TestRealEditToldLoad measures the time from an edit of a captured post
// to the approver being told, with the WebSocket up: 30 times, a migration
// is asked by mention in a new thread, bob approves it, alice edits the
// thread's first post, and the DM telling bob his approval no longer
// counts is awaited. Both ends are Mattermost's own timestamps (the edit's
// edit_at, the DM's create_at), so polling does not enter the figure. It
// reports p50, p99 and the maximum and fails on nothing that depends on
// time.
//
//	COUNTERSIGN_TEST_MATTERMOST_LOAD=1 go test -run TestRealEditToldLoad -v ./cmd/countersign
func TestRealEditToldLoad(t *testing.T) {
	if os.Getenv(loadEnv) != "1" {
		t.Skipf("a measurement: set %s=1 to run it", loadEnv)
	}
	const n = 30
	e := newRealEnv(t)
	w := e.w
	alice, bob := e.person("alice"), e.person("bob")
	v := e.signIn("bob")
	var told []time.Duration
	for i := range n {
		root := w.Post(alice, w.Channel.Id, "orders db needs a migration, take "+strconv.Itoa(i))
		_, answer := e.mention("alice", root.Id, "migrate orders -- release")
		id := e.created(answer.Message)
		if status, _, body := v.decide(id, "approve", "ok"); status != http.StatusSeeOther {
			t.Fatalf("approve %s: %d %s", id, status, snippetOf(body))
		}
		edited := w.Edit(alice, root.Id, "orders db needs a different migration, take "+strconv.Itoa(i))
		dm := w.WaitForDirectPost(bob, 15*time.Second, func(p *model.Post) bool {
			return strings.Contains(p.Message, "Your approval of "+id)
		})
		told = append(told, time.Duration(dm.CreateAt-edited.EditAt)*time.Millisecond)
	}
	slices.Sort(told)
	pct := func(p float64) time.Duration { return told[int(p*float64(len(told)-1))] }
	t.Logf("edit to approver told, %d edits: p50 %s, p90 %s, p99 %s, max %s", n, pct(0.5), pct(0.9), pct(0.99), told[len(told)-1])
}
