//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/outbox"
)

// Rows read back after the load, with plain SQL: the suite checks the
// database as an auditor would, not through the code under test.
type (
	reqRow struct {
		ID, State, Purpose, RequesterType string
	}
	eventRow struct {
		Seq                      int64
		Type, RequestID, Payload string
	}
	idemRow struct {
		IdemKey, BodyHash, RequestID string
	}
	grantRow struct {
		JTI, RequestID, State string
		Redeemed              int
	}
	outboxRow struct {
		ID                                                       int64
		RequestID, Lane, Kind, State, PostID, IdemKey, LastError string
		LeaseOwner                                               string
		Attempts                                                 int
		NextAttemptUS, LeaseUntilUS                              int64
	}
	chatPostRow struct {
		RequestID, PostID, IdemKey string
	}
)

// snapshot is the database after the load.
type snapshot struct {
	requests  map[string]reqRow
	byPurpose map[string][]string
	events    []eventRow
	idem      map[string]idemRow
	grants    map[string]grantRow
	outbox    []outboxRow
	chatPosts map[string]chatPostRow
	// executions maps a request to its execution's state.
	executions map[string]string
	// unsearchable are events the audit search cannot find by who they
	// concern (no audit_events_people row although they have an actor) or,
	// on PostgreSQL, by their words (no audit_events_words row); strays
	// are search rows whose event does not exist.
	unsearchable, strays []int64
}

// openExisting opens the deployment's database without migrating it.
func openExisting(t testing.TB, dsn string) *models.Store {
	t.Helper()
	s, err := models.Open(context.Background(), models.OpenOptions{DSN: dsn, Existing: true})
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	return s
}

func readSnapshot(t testing.TB, dsn string) *snapshot {
	t.Helper()
	s := openExisting(t, dsn)
	defer s.Close()
	db := s.DB(context.Background())
	scan := func(dst any, q string) {
		if err := db.Raw(q).Scan(dst).Error; err != nil {
			t.Fatalf("read back: %s: %v", q, err)
		}
	}
	var reqs []reqRow
	scan(&reqs, `SELECT id, state, purpose, requester_type FROM requests`)
	var idem []idemRow
	scan(&idem, `SELECT idem_key, body_hash, request_id FROM agent_idempotency`)
	var grants []grantRow
	scan(&grants, `SELECT jti, request_id, state, CASE WHEN redeemed_at IS NULL THEN 0 ELSE 1 END AS redeemed FROM grants`)
	var chat []chatPostRow
	scan(&chat, `SELECT request_id, post_id, idem_key FROM request_chat_posts`)
	var execs []struct{ RequestID, State string }
	scan(&execs, `SELECT request_id, state FROM executions`)
	snap := &snapshot{
		requests: map[string]reqRow{}, byPurpose: map[string][]string{}, idem: map[string]idemRow{},
		grants: map[string]grantRow{}, chatPosts: map[string]chatPostRow{}, executions: map[string]string{},
	}
	for _, e := range execs {
		snap.executions[e.RequestID] = e.State
	}
	scan(&snap.events, `SELECT seq, type, request_id, payload FROM audit_events ORDER BY seq`)
	scan(&snap.unsearchable, `SELECT e.seq FROM audit_events e WHERE e.actor_id <> '' AND NOT EXISTS (SELECT 1 FROM audit_events_people p WHERE p.seq = e.seq)`)
	scan(&snap.strays, `SELECT DISTINCT p.seq FROM audit_events_people p WHERE NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.seq = p.seq)`)
	if s.Dialect() == models.DialectPostgres {
		var noWords, strayWords []int64
		scan(&noWords, `SELECT e.seq FROM audit_events e WHERE NOT EXISTS (SELECT 1 FROM audit_events_words w WHERE w.seq = e.seq)`)
		scan(&strayWords, `SELECT w.seq FROM audit_events_words w WHERE NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.seq = w.seq)`)
		snap.unsearchable = append(snap.unsearchable, noWords...)
		snap.strays = append(snap.strays, strayWords...)
	}
	scan(&snap.outbox, `SELECT id, request_id, lane, kind, state, post_id, idem_key, last_error, lease_owner, attempts, next_attempt_us, lease_until_us FROM outbox_messages ORDER BY id`)
	for _, r := range reqs {
		snap.requests[r.ID] = r
		snap.byPurpose[r.Purpose] = append(snap.byPurpose[r.Purpose], r.ID)
	}
	for _, r := range idem {
		snap.idem[r.IdemKey] = r
	}
	for _, g := range grants {
		snap.grants[g.RequestID] = g
	}
	for _, c := range chat {
		snap.chatPosts[c.RequestID] = c
	}
	return snap
}

// problems collects failed checks by category, so a report says how many
// of each and shows a few examples rather than thousands of lines.
type problems struct {
	order []string
	byCat map[string][]string
}

func (p *problems) add(cat, format string, a ...any) {
	if p.byCat == nil {
		p.byCat = map[string][]string{}
	}
	if _, ok := p.byCat[cat]; !ok {
		p.order = append(p.order, cat)
	}
	p.byCat[cat] = append(p.byCat[cat], fmt.Sprintf(format, a...))
}

func (p *problems) count() int {
	n := 0
	for _, v := range p.byCat {
		n += len(v)
	}
	return n
}

// report fails t once per category, with the count and up to 5 examples.
func (p *problems) report(t testing.TB) {
	t.Helper()
	for _, cat := range p.order {
		ex := p.byCat[cat]
		shown := ex
		if len(shown) > 5 {
			shown = shown[:5]
		}
		t.Errorf("FAULT CHECK FAILED: %s: %d case(s), e.g.\n    %s", cat, len(ex), strings.Join(shown, "\n    "))
	}
}

// transition is one state change recorded in the audit log.
type transition struct {
	seq      int64
	from, to string
}

// transitions returns each request's recorded state changes, in order.
func (s *snapshot) transitions() map[string][]transition {
	out := map[string][]transition{}
	for _, e := range s.events {
		if e.RequestID == "" || !strings.HasPrefix(e.Type, "request.") {
			continue
		}
		var p struct {
			From string `json:"from"`
			To   string `json:"to"`
		}
		if json.Unmarshal([]byte(e.Payload), &p) != nil || p.From == "" || p.To == "" {
			continue
		}
		out[e.RequestID] = append(out[e.RequestID], transition{seq: e.Seq, from: p.From, to: p.To})
	}
	return out
}

// history lists a request's audit events as "seq type [from→to]".
func (s *snapshot) history(id string) string {
	var parts []string
	for _, e := range s.events {
		if e.RequestID != id {
			continue
		}
		var p struct {
			From   string `json:"from"`
			To     string `json:"to"`
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal([]byte(e.Payload), &p)
		item := fmt.Sprintf("%d %s", e.Seq, e.Type)
		if p.From != "" {
			item += fmt.Sprintf(" %s→%s", p.From, p.To)
		}
		if p.Reason != "" {
			item += fmt.Sprintf(" (%s)", p.Reason)
		}
		parts = append(parts, item)
	}
	return strings.Join(parts, ", ")
}

// eventsOf counts events of each type per request.
func (s *snapshot) eventsOf() map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, e := range s.events {
		if e.RequestID == "" {
			continue
		}
		if out[e.RequestID] == nil {
			out[e.RequestID] = map[string]int{}
		}
		out[e.RequestID][e.Type]++
	}
	return out
}

// checkAll compares what the clients were told (led), what the database
// holds (snap), what the fake Mattermost received and what the executor
// ran, and returns every broken promise. during tells whether a call
// overlapped an outage (nil: none did).
func checkAll(snap *snapshot, led *ledger, w *world, d *deployment, during func(outcome) bool) *problems {
	p := &problems{}
	evs := snap.eventsOf()
	trans := snap.transitions()

	for _, w := range led.wrong {
		p.add("wrong answer: "+w[0], "%s", w[1])
	}

	// Every committed event can be searched for; no search row outlives
	// its event (a rolled-back or half-written append).
	for _, seq := range snap.unsearchable {
		p.add("audit event missing from the search tables", "event %d", seq)
	}
	for _, seq := range snap.strays {
		p.add("search row without its audit event", "event %d", seq)
	}

	// Every acknowledged request is stored, with its audit events.
	for id, c := range led.requests {
		r, ok := snap.requests[id]
		if !ok {
			p.add("acknowledged request missing", "%s (%s, key %q, purpose %q)", id, c.via, c.key, c.purpose)
			continue
		}
		if evs[id]["request.created"] != 1 {
			p.add("acknowledged request without exactly one request.created event", "%s has %d", id, evs[id]["request.created"])
		}
		if r.Purpose != c.purpose {
			p.add("acknowledged request stored with another purpose", "%s: %q, want %q", id, r.Purpose, c.purpose)
		}
		if c.via == "slash" && len(snap.byPurpose[c.purpose]) != 1 {
			p.add("slash command stored more than once", "purpose %q: %v", c.purpose, snap.byPurpose[c.purpose])
		}
	}

	// One request per idempotency key, with its record; at most one grant.
	for _, k := range led.keys {
		ids := snap.byPurpose[k.purpose]
		rec, hasRec := snap.idem[k.key]
		switch {
		case len(ids) > 1:
			grants := 0
			for _, id := range ids {
				if _, ok := snap.grants[id]; ok {
					grants++
				}
			}
			p.add("idempotency key with more than one request", "key %s (sent %d times, acknowledged %v): requests %v, %d grants", k.key, k.sent, k.acked, ids, grants)
		case len(k.acked) > 0 && len(ids) == 0:
			p.add("idempotency key acknowledged but no request stored", "key %s acknowledged as %v", k.key, k.acked)
		}
		// The same key and body return the same request: a call that
		// lost the race to store it must get the replay, not a 5xx
		// (outside outages, when the database itself was away).
		if len(ids) == 1 {
			for _, o := range k.failed {
				if during == nil || !during(o) {
					p.add("same Idempotency-Key and body answered 5xx although the key's request was stored (the replay is the answer)",
						"key %s: %s at %s; the key's request is %s", k.key, o.why, o.at.Format("15:04:05.000"), ids[0])
				}
			}
		}
		if len(ids) > 0 && !hasRec {
			p.add("agent request stored without its idempotency record", "key %s: requests %v", k.key, ids)
		}
		if hasRec {
			if len(ids) > 0 && !contains(ids, rec.RequestID) {
				p.add("idempotency record points to a request of another key", "key %s → %s, but the key's requests are %v", k.key, rec.RequestID, ids)
			}
			for id := range k.acked {
				if id != rec.RequestID {
					p.add("client told a request id other than the key's record", "key %s: told %s, record says %s", k.key, id, rec.RequestID)
				}
			}
		}
	}

	// Exactly one transition out of each state, a consistent path, and a
	// final state matching the row.
	for id, r := range snap.requests {
		ts := trans[id]
		from := map[string]int{}
		state := "pending"
		for _, t := range ts {
			from[t.from]++
			if t.from != state {
				p.add("transition that does not start where the last ended", "%s: %s→%s after reaching %s", id, t.from, t.to, state)
			}
			state = t.to
		}
		for st, n := range from {
			if n > 1 {
				p.add("request with two transitions out of the same state", "%s: %d transitions out of %s; audited: %s", id, n, st, snap.history(id))
			}
		}
		if state != r.State {
			p.add("stored state differs from the audited path", "%s is %s, audit path ends at %s; audited: %s", id, r.State, state, snap.history(id))
		}
	}

	// Acknowledged cancels, redemptions and results happened.
	for id := range led.cancelAcks {
		if r := snap.requests[id]; r.State != "cancelled" {
			p.add("acknowledged cancel not stored", "%s is %q; audited: %s", id, r.State, snap.history(id))
		}
	}
	// A cancel that lost the race is told who won ("already cancelled
	// by …"), not to try again (outside outages).
	for id, outs := range led.cancelFailed {
		if snap.requests[id].State != "cancelled" {
			continue
		}
		for _, o := range outs {
			if during == nil || !during(o) {
				p.add("cancel answered \"could not cancel, try again\" although the request was cancelled (the loser should be told who cancelled it)",
					"%s at %s; audited: %s", id, o.at.Format("15:04:05.000"), snap.history(id))
			}
		}
	}
	for id, n := range led.redeemAcks {
		g, ok := snap.grants[id]
		switch {
		case n > 1:
			p.add("grant redeemed twice (two 200 answers)", "%s: %d", id, n)
		case !ok || g.Redeemed != 1:
			p.add("acknowledged redemption not stored", "%s: grant %+v", id, g)
		case g.JTI != led.redeemJTI[id]:
			p.add("acknowledged redemption of another grant", "%s: told jti %s, stored %s", id, led.redeemJTI[id], g.JTI)
		}
	}
	for id, g := range snap.grants {
		if n := evs[id]["grant.redeemed"]; n > 1 || (n == 1) != (g.Redeemed == 1) {
			p.add("grant.redeemed events do not match the grant", "%s: %d events, redeemed=%d", id, n, g.Redeemed)
		}
	}
	// An acknowledged result is recorded; the request ends executed
	// (the answer may still say approved when only ending it failed: the
	// execution worker finishes that later, so approved is accepted).
	for id, st := range led.resultAcks {
		r := snap.requests[id]
		if ex := snap.executions[id]; ex != "succeeded" {
			p.add("acknowledged result not recorded", "%s: execution %q, request %s (answer said %q); audited: %s", id, ex, r.State, st, snap.history(id))
		} else if r.State != "executed" && r.State != "approved" {
			p.add("acknowledged result, but the request ended otherwise", "%s is %s (answer said %q); audited: %s", id, r.State, st, snap.history(id))
		}
	}
	runs := map[string]int{}
	for _, r := range d.executor.Runs() {
		runs[r.JTI]++
		if runs[r.JTI] == 2 {
			p.add("action executed twice", "request %s, jti %s", r.RequestID, r.JTI)
		}
	}

	checkOutbox(p, snap, w)
	return p
}

// checkOutbox: every request has its chat message queued; nothing failed;
// every delivered message is in Mattermost once.
func checkOutbox(p *problems, snap *snapshot, w *world) {
	for id := range snap.requests {
		if _, ok := snap.chatPosts[id]; !ok {
			p.add("request without its chat message in the outbox", "%s", id)
		}
	}
	posts := w.fake.Posts()
	byKey := map[string][]string{}
	exists := map[string]bool{}
	for _, post := range posts {
		exists[post.Id] = true
		if k, ok := post.GetProp(outbox.PropKey).(string); ok && k != "" {
			byKey[k] = append(byKey[k], post.Id)
		}
	}
	for k, ids := range byKey {
		if len(ids) > 1 {
			p.add("chat message posted more than once", "key %s: posts %v", k, ids)
		}
	}
	for _, m := range snap.outbox {
		switch {
		case m.State == string(outbox.StateFailed):
			p.add("outbox message failed (lost)", "row %d %s %s after %d attempts: %s", m.ID, m.Kind, m.RequestID, m.Attempts, m.LastError)
		case m.State == string(outbox.StateDone) && m.PostID != "" && !exists[m.PostID]:
			p.add("outbox message marked delivered but not in Mattermost", "row %d %s %s → post %s", m.ID, m.Kind, m.RequestID, m.PostID)
		}
	}
	for _, c := range snap.chatPosts {
		if c.PostID != "" && !exists[c.PostID] {
			p.add("request message recorded but not in Mattermost", "%s → %s", c.RequestID, c.PostID)
		}
	}
}

// pendingSummary groups the rows still pending by kind, whether they were
// tried, their last error and whether they are due, for the report.
func (s *snapshot) pendingSummary(now time.Time) []string {
	type group struct {
		n      int
		oldest int64
	}
	groups := map[string]*group{}
	for _, r := range s.outbox {
		if r.State != string(outbox.StatePending) {
			continue
		}
		due := "due"
		if r.NextAttemptUS > now.UnixMicro() {
			due = "waiting for its next attempt"
		}
		lease := ""
		if r.LeaseUntilUS > now.UnixMicro() {
			lease = ", leased"
		}
		key := fmt.Sprintf("%s, %d attempts, %s%s, last error %q", r.Kind, r.Attempts, due, lease, firstLine(r.LastError, 80))
		g := groups[key]
		if g == nil {
			g = &group{oldest: r.ID}
			groups[key] = g
		}
		g.n++
	}
	var out []string
	for k, g := range groups {
		out = append(out, fmt.Sprintf("%d × %s (e.g. row %d)", g.n, k, g.oldest))
	}
	sort.Strings(out)
	return out
}

// outboxCounts counts rows by state.
func (s *snapshot) outboxCounts() map[string]int {
	m := map[string]int{}
	for _, r := range s.outbox {
		m[r.State]++
	}
	return m
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// stateCounts counts requests by state, as "approved 12, pending 3, …".
func (s *snapshot) stateCounts() string {
	m := map[string]int{}
	for _, r := range s.requests {
		m[r.State]++
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
