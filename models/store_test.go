package models_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/storetest"
)

func TestParseDSN(t *testing.T) {
	cases := []struct {
		in      string
		dialect models.Dialect
		out     string
		bad     string
	}{
		{in: "postgres://u@db:5432/cs?sslmode=disable", dialect: models.DialectPostgres, out: "postgres://u@db:5432/cs?sslmode=disable"},
		{in: "postgresql://u@db/cs", dialect: models.DialectPostgres, out: "postgresql://u@db/cs"},
		{in: "sqlite:/var/lib/cs/cs.db", dialect: models.DialectSQLite, out: "/var/lib/cs/cs.db"},
		{in: "./data/cs.db", dialect: models.DialectSQLite, out: "./data/cs.db"},
		{in: "", bad: "empty"},
		{in: "mysql://root@db/cs", bad: "unsupported scheme"},
		{in: "postgres:///nohost", bad: "no host"},
		{in: "sqlite:", bad: "needs a file path"},
		{in: "sqlite:/tmp/x.db?_pragma=foo", bad: "must not carry options"},
	}
	for _, c := range cases {
		d, out, err := models.ParseDSN(c.in)
		if c.bad != "" {
			if err == nil || !strings.Contains(err.Error(), c.bad) || !errors.Is(err, models.ErrInvalid) {
				t.Errorf("ParseDSN(%q): want ErrInvalid containing %q, got %v", c.in, c.bad, err)
			}
			continue
		}
		if err != nil || d != c.dialect || out != c.out {
			t.Errorf("ParseDSN(%q) = %q, %q, %v; want %q, %q", c.in, d, out, err, c.dialect, c.out)
		}
	}
}

func TestOpenRefusesMissingDirectoryAndCreatesNothing(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "missing")
	_, err := models.Open(context.Background(), models.OpenOptions{DSN: "sqlite:" + filepath.Join(dir, "cs.db")})
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("want a 'does not exist' error, got %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open created %s half-way: %v", dir, err)
	}
}

func TestOpenRefusesUnwritableDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores directory permissions; use a path whose parent is a file.
		f := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := models.Open(context.Background(), models.OpenOptions{DSN: "sqlite:" + filepath.Join(f, "cs.db")})
		if err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Fatalf("want 'not a directory', got %v", err)
		}
		return
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	_, err := models.Open(context.Background(), models.OpenOptions{DSN: "sqlite:" + filepath.Join(dir, "cs.db")})
	if err == nil || !strings.Contains(err.Error(), "not writable") {
		t.Fatalf("want 'not writable', got %v", err)
	}
}

func TestOpenUnreachablePostgres(t *testing.T) {
	_, err := models.Open(context.Background(), models.OpenOptions{DSN: "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"})
	if err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("want an 'unreachable' error, got %v", err)
	}
}

func TestMigrationsAreIdempotentAndVersioned(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		s1 := b.Open(t)
		s2 := b.Open(t) // a second process starting on the same database
		for _, s := range []*models.Store{s1, s2} {
			var versions []int
			if err := s.DB(context.Background()).Raw(`SELECT version FROM schema_migrations ORDER BY version`).Scan(&versions).Error; err != nil {
				t.Fatal(err)
			}
			ok := len(versions) > 0 && versions[0] == 1 && versions[len(versions)-1] == models.SchemaVersion(s.Dialect())
			for i := 1; ok && i < len(versions); i++ {
				ok = versions[i] > versions[i-1]
			}
			if !ok {
				t.Fatalf("schema_migrations = %v, want each migration once, 1 … %d", versions, models.SchemaVersion(s.Dialect()))
			}
		}
		var head struct {
			Seq  int64
			Hash string
		}
		if err := s1.DB(context.Background()).Raw(`SELECT seq, hash FROM audit_head`).Scan(&head).Error; err != nil {
			t.Fatal(err)
		}
		if head.Seq != 0 || len(head.Hash) != 64 {
			t.Fatalf("fresh chain head = %+v", head)
		}
	})
}

func TestSQLitePragmas(t *testing.T) {
	s := storetest.SQLite(t).Open(t)
	ctx := context.Background()
	var mode string
	var sync, fk int
	db := s.DB(ctx)
	if err := db.Raw(`PRAGMA journal_mode`).Scan(&mode).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Raw(`PRAGMA synchronous`).Scan(&sync).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Raw(`PRAGMA foreign_keys`).Scan(&fk).Error; err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || sync != 2 || fk != 1 {
		t.Fatalf("journal_mode=%s synchronous=%d foreign_keys=%d; want wal, 2 (FULL), 1", mode, sync, fk)
	}
}
