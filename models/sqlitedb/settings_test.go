package sqlitedb

import (
	"database/sql"
	"path/filepath"
	"testing"
)

// TestCacheSizeSharesTheBudget: the pool's connections together get the
// budget, whatever the pool's size, and never less than 1 MiB each.
func TestCacheSizeSharesTheBudget(t *testing.T) {
	for _, c := range []struct{ budget, pool, want int }{
		{32 << 10, 8, -4096},
		{32 << 10, 16, -2048},
		{32 << 10, 1, -(32 << 10)},
		{32 << 10, 0, -(32 << 10)},
		{4 << 10, 8, -1024},
	} {
		if got := CacheSizeKiB(c.budget, c.pool); got != c.want {
			t.Errorf("CacheSizeKiB(%d, %d) = %d, want %d", c.budget, c.pool, got, c.want)
		}
	}
}

// TestDSNSettings opens a database with DSN and reads back what each
// connection runs with: its share of the cache budget, no memory-mapped
// I/O, WAL, full synchronous commits and foreign keys.
func TestDSNSettings(t *testing.T) {
	db, err := sql.Open("sqlite", DSN(filepath.Join(t.TempDir(), "x.db"), 4))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for pragma, want := range map[string]string{
		"cache_size":   "-8192",
		"mmap_size":    "0",
		"journal_mode": "wal",
		"synchronous":  "2",
		"foreign_keys": "1",
	} {
		var got string
		if err := db.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}
