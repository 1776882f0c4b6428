package searchtest

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/search"
	"github.com/countersign/countersign/models/storetest"
)

// Vocabulary of the generated purposes, so benchmarks can pick words that
// occur with realistic frequencies.
var (
	Verbs    = []string{"restart", "rotate", "scale", "flush", "deploy", "rollback", "drain", "failover", "patch", "resize", "reindex", "renew"}
	Services = []string{"api", "payments", "checkout", "search", "catalogue", "billing", "auth", "gateway", "ledger", "inventory", "notifications",
		"reports", "images", "queue", "scheduler", "cache", "mailer", "webhooks", "analytics", "pricing", "shipping", "returns", "loyalty", "accounts",
		"sessions", "tokens", "exports", "imports", "audit", "metrics", "logs", "traces", "dns", "cdn", "vpn", "ldap", "kafka", "redis", "postgres", "etcd"}
	Reasons = []string{"after memory leak", "for quarterly audit", "because of stale cache", "before the release freeze", "after failed deploy",
		"to pick up new certificate", "during traffic spike", "per security advisory", "after config drift", "for capacity planning",
		"following incident review", "to clear stuck jobs", "after node replacement", "for the customer escalation", "as part of chaos drill"}
	firstNames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yusuf"}
)

// MillionEvents is the size of the benchmark log.
const MillionEvents = 1_000_000

// LargeActors returns the names of the requesters in a Large log.
func LargeActors() []string {
	var out []string
	for i := 0; i < 300; i++ {
		out = append(out, humanName(i))
	}
	for i := 0; i < 30; i++ {
		out = append(out, agentName(i))
	}
	return out
}

func humanName(i int) string { return fmt.Sprintf("%s.%03d", firstNames[i%len(firstNames)], i) }
func agentName(i int) string { return fmt.Sprintf("deploy-bot-%02d", i) }

// generatorVersion names the kept databases; raise it when build changes
// what it writes. Schema changes need no new build: opening the kept
// database applies the newer migrations to it.
const generatorVersion = 1

// Large opens (building it the first time) a store holding n generated
// events over about n/5 requests with realistic purposes, actors, channels
// and decisions, with a valid hash chain. The database is kept for later
// runs: a SQLite file under the user cache directory, or a PostgreSQL
// schema named after n, so the expensive build happens once per backend.
func Large(b testing.TB, backend string, n int) *models.Store {
	b.Helper()
	st := storetest.OpenDSN(b, largeDSN(b, backend, n))
	var have int64
	if err := st.DB(context.Background()).Raw(`SELECT seq FROM audit_head WHERE id = 1`).Scan(&have).Error; err != nil {
		b.Fatal(err)
	}
	// A server run over the kept log may have appended its own events
	// (its grant signing key); the generated n are still the first n.
	if have >= int64(n) {
		tidy(b, st)
		return st
	}
	if have != 0 {
		b.Fatalf("benchmark database for %s holds %d events, want 0 or at least %d; delete it", backend, have, n)
	}
	start := time.Now()
	if err := build(st, n); err != nil {
		b.Fatalf("build benchmark log: %v", err)
	}
	b.Logf("built %d events on %s in %s", n, backend, time.Since(start).Round(time.Second))
	tidy(b, st)
	return st
}

// tidy merges a SQLite log's full-text index into one segment, as the
// server's search.Tidier keeps it (in big steps: nothing else runs).
func tidy(b testing.TB, st *models.Store) {
	b.Helper()
	start := time.Now()
	rep, err := search.NewTidier(st, search.TidierConfig{Pages: 4000, Pause: time.Millisecond, MaxSteps: 1 << 20}).Tidy(context.Background())
	if err != nil {
		b.Fatalf("merge the benchmark log's search index: %v", err)
	}
	if rep.Steps > 0 {
		b.Logf("merged the search index from %d segments to %d in %d steps, %s", rep.Before, rep.After, rep.Steps, time.Since(start).Round(time.Millisecond))
	}
}

// LargeDSN is Large for a benchmark that runs the server as its own
// process: it builds the log if needed, moves the generated requests' expiry
// out of the way of the server's sweeper, closes the store and returns the
// database address to put in the server's configuration.
func LargeDSN(b testing.TB, backend string, n int) string {
	b.Helper()
	st := Large(b, backend, n)
	// The generated requests that still wait were due an hour after they
	// were made, in 2025: a server would spend the benchmark expiring them
	// (and appending their events). Nothing is due while it runs.
	far := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := st.DB(context.Background()).Exec(`UPDATE requests SET expires_at = ? WHERE state IN (?, ?) AND expires_at < ?`,
		far, string(models.StatePending), string(models.StateApproved), far).Error; err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	return largeDSN(b, backend, n)
}

// BenchDir returns the directory (created if missing) where the kept
// benchmark databases live, under the user cache directory; benchmarks keep
// other state that must outlive a run there too.
func BenchDir(b testing.TB) string {
	b.Helper()
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, "countersign-bench")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	return dir
}

// largeDSN names the kept database of backend (creating the PostgreSQL
// schema or the cache directory).
func largeDSN(b testing.TB, backend string, n int) string {
	b.Helper()
	switch backend {
	case "sqlite":
		return "sqlite:" + filepath.Join(BenchDir(b), fmt.Sprintf("audit-%d-g%d.db", n, generatorVersion))
	case "postgres":
		base := storetest.PostgresBaseDSN()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			b.Skipf("no PostgreSQL at %s: %v", base, err)
		}
		defer func() { _ = conn.Close(ctx) }()
		schema := fmt.Sprintf("cs_bench_audit_%d_g%d", n, generatorVersion)
		if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
			b.Fatal(err)
		}
		u, _ := url.Parse(base)
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	b.Fatalf("unknown backend %q", backend)
	return ""
}

// Generate writes n events of the benchmark log's kind (the same
// population, vocabulary and chain, from the same seed) into st, which
// must be empty: for tests that compare search plans on realistic data of
// a size a test can afford.
func Generate(t testing.TB, st *models.Store, n int) {
	t.Helper()
	if err := build(st, n); err != nil {
		t.Fatalf("generate %d events: %v", n, err)
	}
}

// build writes the generated log in one transaction with multi-row
// inserts (the search index is filled by the same statements, as in
// production).
func build(st *models.Store, n int) error {
	db, err := st.SQL()
	if err != nil {
		return err
	}
	pg := st.Dialect() == models.DialectPostgres
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	rng := rand.New(rand.NewPCG(42, 4211))
	evs := newBatch(tx, pg, "audit_events", []string{"seq", "at_unix_us", "type", "actor_type", "actor_id", "actor_display", "request_id", "purpose", "action", "policy_ref", "payload", "prev_hash", "hash"}, 500)
	reqs := newBatch(tx, pg, "requests", []string{"id", "kind", "action", "params", "purpose", "requester_type", "requester_id", "requester_name", "sponsor_id", "sponsor_name",
		"team_id", "team_name", "channel_id", "channel_name", "root_post_id", "trigger_post_id", "content_hash", "state", "version", "policy_ref", "required_approvals", "created_at", "updated_at", "expires_at"}, 300)
	hasher := audit.NewHasher()
	prev := audit.GenesisHash
	seq := int64(0)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	channels := []string{"ops", "security", "platform", "payments-oncall", "data", "infra", "releases", "sre"}
	emit := func(typ string, actor models.Actor, reqID, purpose, action string) error {
		seq++
		ev := &models.AuditEvent{Seq: seq, AtUnixUS: base.Add(time.Duration(seq) * 30 * time.Second).UnixMicro(), Type: typ, ActorType: actor.Type,
			ActorID: actor.ID, ActorDisplay: actor.Display, RequestID: reqID, Purpose: purpose, Action: action, PolicyRef: "prod",
			Payload: fmt.Sprintf(`{"n":%d}`, seq), PrevHash: prev}
		ev.Hash = string(hasher.Sum(audit.FieldsOf(ev)))
		prev = ev.Hash
		if evs.flushesNext() {
			// The events' trigger looks up their requests (who made and
			// sponsors them), so those rows go first.
			if err := reqs.flush(); err != nil {
				return err
			}
		}
		return evs.add(ev.Seq, ev.AtUnixUS, ev.Type, string(ev.ActorType), ev.ActorID, ev.ActorDisplay, ev.RequestID, ev.Purpose, ev.Action, ev.PolicyRef, ev.Payload, ev.PrevHash, ev.Hash)
	}
	for r := 0; seq < int64(n); r++ {
		var requester models.Actor
		if rng.IntN(4) == 0 {
			i := rng.IntN(30)
			sp := rng.IntN(300)
			requester = models.Actor{Type: models.ActorAgent, ID: fmt.Sprintf("bot-%02d", i), Display: agentName(i), SponsorID: fmt.Sprintf("u-%04d", sp), SponsorName: humanName(sp)}
		} else {
			i := rng.IntN(300)
			requester = models.Actor{Type: models.ActorHuman, ID: fmt.Sprintf("u-%04d", i), Display: humanName(i)}
		}
		verb, svc := Verbs[rng.IntN(len(Verbs))], Services[rng.IntN(len(Services))]
		purpose := fmt.Sprintf("INC-%d %s %s %s", 1000+rng.IntN(19000), verb, svc, Reasons[rng.IntN(len(Reasons))])
		id := fmt.Sprintf("REQ-B%08d", r)
		ch := channels[rng.IntN(len(channels))]
		state := []models.State{models.StateExecuted, models.StateDenied, models.StateExpired, models.StateApproved, models.StatePending}[rng.IntN(5)]
		at := base.Add(time.Duration(seq) * 30 * time.Second)
		if err := reqs.add(id, "action", verb, "{}", purpose, string(requester.Type), requester.ID, requester.Display, requester.SponsorID, requester.SponsorName,
			"team-1", "acme", "ch-"+ch, ch, "root-"+id, "trig-"+id, "sha256:bench", string(state), 1, "prod", 1, at, at, at.Add(time.Hour)); err != nil {
			return err
		}
		if err := emit("request.created", requester, id, purpose, verb); err != nil {
			return err
		}
		approver := models.Actor{Type: models.ActorHuman, ID: fmt.Sprintf("sub-%04d", rng.IntN(300)), Display: humanName(rng.IntN(300))}
		steps := []struct {
			typ   string
			actor models.Actor
		}{{"decision.approve", approver}, {"request.approved", approver}, {"request.executed", models.SystemActor("executor")}}
		if state == models.StateDenied {
			steps = steps[:0]
			steps = append(steps, struct {
				typ   string
				actor models.Actor
			}{"decision.deny", approver}, struct {
				typ   string
				actor models.Actor
			}{"request.denied", approver})
		}
		for _, s := range steps {
			if seq >= int64(n) {
				break
			}
			if err := emit(s.typ, s.actor, id, purpose, verb); err != nil {
				return err
			}
		}
	}
	if err := reqs.flush(); err != nil {
		return err
	}
	if err := evs.flush(); err != nil {
		return err
	}
	q := `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`
	if pg {
		q = `UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`
	}
	if _, err := tx.ExecContext(ctx, q, seq, prev); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if pg {
		// As autovacuum leaves a long-running server's tables: statistics
		// taken, the visibility map set (index-only scans), the GIN
		// index's pending list merged.
		_, err = db.ExecContext(ctx, `VACUUM ANALYZE audit_events, audit_events_people, requests`)
		return err
	}
	if _, err = db.ExecContext(ctx, `ANALYZE`); err != nil {
		return err
	}
	// Fold the write-ahead log into the database file, as SQLite does in
	// the background, so reads are measured as a long-running server sees them.
	_, err = db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// batch is a multi-row INSERT filled row by row.
type batch struct {
	tx    *sql.Tx
	pg    bool
	table string
	cols  []string
	rows  int
	args  []any
	n     int
}

func newBatch(tx *sql.Tx, pg bool, table string, cols []string, rows int) *batch {
	return &batch{tx: tx, pg: pg, table: table, cols: cols, rows: rows}
}

func (b *batch) add(vals ...any) error {
	b.args = append(b.args, vals...)
	b.n++
	if b.n == b.rows {
		return b.flush()
	}
	return nil
}

func (b *batch) flush() error {
	if b.n == 0 {
		return nil
	}
	var s strings.Builder
	s.WriteString("INSERT INTO " + b.table + " (" + strings.Join(b.cols, ", ") + ") VALUES ")
	p := 0
	for r := 0; r < b.n; r++ {
		if r > 0 {
			s.WriteString(", ")
		}
		s.WriteByte('(')
		for c := range b.cols {
			if c > 0 {
				s.WriteString(", ")
			}
			p++
			if b.pg {
				fmt.Fprintf(&s, "$%d", p)
			} else {
				s.WriteByte('?')
			}
		}
		s.WriteByte(')')
	}
	if _, err := b.tx.Exec(s.String(), b.args...); err != nil {
		return fmt.Errorf("insert into %s: %w", b.table, err)
	}
	b.args, b.n = b.args[:0], 0
	return nil
}

// flushesNext reports whether the next add writes the batch.
func (b *batch) flushesNext() bool { return b.n+1 == b.rows }
