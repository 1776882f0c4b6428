package models_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/storetest"
)

// TestReadyOnHealthyStores: a store that can take changes is ready, and
// the SQLite probe's write really commits.
func TestReadyOnHealthyStores(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		for range 3 {
			if err := s.Ready(ctx); err != nil {
				t.Fatalf("ready: %v", err)
			}
		}
		if s.Dialect() == models.DialectSQLite {
			var n int64
			if err := s.DB(ctx).Table("store_probe").Count(&n).Error; err != nil || n != 1 {
				t.Fatalf("probe rows %d (%v), want the one row the probe keeps rewriting", n, err)
			}
		}
	})
}

// TestReadyRefusesAStandbyPostgreSQL: a session whose writes would be
// refused (as on a standby, or with default_transaction_read_only) is
// not ready.
func TestReadyRefusesAReadOnlyPostgreSQL(t *testing.T) {
	b := storetest.Postgres(t)
	s := b.Open(t)
	ctx := context.Background()
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("ready: %v", err)
	}
	roDSN := b.DSN() + "&default_transaction_read_only=on"
	if _, err := models.Open(ctx, models.OpenOptions{DSN: roDSN}); err == nil || !errors.Is(err, models.ErrInvalid) {
		t.Fatalf("opening a read-only database for serving: %v, want a refusal", err)
	}
	ro, err := models.Open(ctx, models.OpenOptions{DSN: roDSN, Existing: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.Ready(ctx); !errors.Is(err, models.ErrNotWritable) {
		t.Fatalf("read-only session: %v, want ErrNotWritable", err)
	}
}

// TestReadyFollowsAFullDisk: a SQLite store whose disk fills up stops
// being ready (though it still answers every read), and is ready again
// once space is freed.
func TestReadyFollowsAFullDisk(t *testing.T) {
	dir := storetest.SmallDisk(t, 48<<20)
	s := storetest.OpenDSN(t, "sqlite:"+filepath.Join(dir, "cs.db"))
	ctx := context.Background()
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("ready on an empty disk: %v", err)
	}
	free := storetest.FillDisk(t, dir)
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("a full disk still answers reads, got %v", err)
	}
	if err := s.Ready(ctx); !errors.Is(err, models.ErrNotWritable) {
		t.Fatalf("ready on a full disk: %v, want ErrNotWritable", err)
	}
	free()
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("ready after space was freed: %v", err)
	}
}

// TestOpenRefusesAReadOnlyFile: serving from a database file that cannot
// be written is refused at open, with the reason.
func TestOpenRefusesAReadOnlyFile(t *testing.T) {
	path := storetest.ReadOnlySQLite(t)
	_, err := models.Open(context.Background(), models.OpenOptions{DSN: "sqlite:" + path})
	if !errors.Is(err, models.ErrInvalid) || !strings.Contains(err.Error(), "cannot") {
		t.Fatalf("open of a read-only file: %v, want a refusal saying it cannot be written", err)
	}
}
