// Package storetest opens real stores for tests: SQLite in a temporary
// directory, and PostgreSQL in a fresh schema of the server named by
// COUNTERSIGN_TEST_POSTGRES (default: the local trust-auth server on
// 127.0.0.1:5432, database test, user postgres).
//
// When PostgreSQL cannot be reached the PostgreSQL tests skip with a message
// saying so — unless COUNTERSIGN_TEST_REQUIRE_POSTGRES=1 (set by CI), where a
// missing server fails the test instead.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/countersign/countersign/models"
)

// DefaultPostgresDSN is used when COUNTERSIGN_TEST_POSTGRES is unset.
const DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Backend names a database engine under test.
type Backend struct {
	Name string
	// Open returns a fresh, migrated, empty store; it is closed when the
	// test ends. Calling it again in the same test returns a second store
	// (a second "process") on the same database.
	Open func(t testing.TB) *models.Store
	// DSN returns the address of the test's database (valid after Open).
	DSN func() string
}

// SQLiteDSN returns a fresh SQLite path in t's temporary directory.
func SQLiteDSN(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "countersign.db")
}

// OpenDSN opens a store on dsn and closes it when t ends.
func OpenDSN(t testing.TB, dsn string) *models.Store {
	t.Helper()
	s, err := models.Open(context.Background(), models.OpenOptions{DSN: dsn})
	if err != nil {
		t.Fatalf("open store %s: %v", dsn, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// ReadOnlySQLite returns the path of a fresh, migrated SQLite database
// that ReadOnlyFile has made read-only until t ends.
func ReadOnlySQLite(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cs.db")
	s, err := models.Open(context.Background(), models.OpenOptions{DSN: "sqlite:" + path})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ReadOnlyFile(t, path)
	return path
}

// SQLite returns a SQLite backend whose stores share one fresh file.
func SQLite(t testing.TB) Backend {
	dsn := SQLiteDSN(t)
	return Backend{Name: "sqlite", Open: func(t testing.TB) *models.Store { return OpenDSN(t, dsn) }, DSN: func() string { return dsn }}
}

// PostgresRequired reports whether a missing PostgreSQL fails tests.
func PostgresRequired() bool { return os.Getenv("COUNTERSIGN_TEST_REQUIRE_POSTGRES") == "1" }

// PostgresBaseDSN returns the configured server address.
func PostgresBaseDSN() string {
	if v := os.Getenv("COUNTERSIGN_TEST_POSTGRES"); v != "" {
		return v
	}
	return DefaultPostgresDSN
}

// Postgres returns a PostgreSQL backend on a fresh schema dropped when t
// ends, or skips t (fails it in CI) when no server answers.
func Postgres(t testing.TB) Backend {
	t.Helper()
	base := PostgresBaseDSN()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		if PostgresRequired() {
			t.Fatalf("PostgreSQL required (COUNTERSIGN_TEST_REQUIRE_POSTGRES=1) but unreachable at %s: %v", redact(base), err)
		}
		t.Skipf("skipping PostgreSQL test: no server at %s (%v); set COUNTERSIGN_TEST_POSTGRES to a DSN to run it", redact(base), err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "cs_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = conn.Close(ctx)
		t.Fatalf("create test schema: %v", err)
	}
	_ = conn.Close(ctx)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, base); err == nil {
			_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			_ = c.Close(ctx)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", redact(base), err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	dsn := u.String()
	return Backend{Name: "postgres", Open: func(t testing.TB) *models.Store { return OpenDSN(t, dsn) }, DSN: func() string { return dsn }}
}

// Each runs fn as a subtest on SQLite and on PostgreSQL.
func Each(t *testing.T, fn func(t *testing.T, b Backend)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// EachStore runs fn as a subtest on a fresh store of SQLite and of
// PostgreSQL, for tests that need one store and not the backend.
func EachStore(t *testing.T, fn func(t *testing.T, s *models.Store)) {
	t.Helper()
	Each(t, func(t *testing.T, b Backend) { fn(t, b.Open(t)) })
}

// Race calls fn(i) for each i in [0, n), each in its own goroutine, all
// released at once, and returns when every call has returned: for tests
// of concurrent writers.
func Race(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers and readers:
// where a test collects the log of a server or a client that writes it
// from its own goroutines.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparseable DSN)"
	}
	return u.Redacted()
}
