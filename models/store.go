package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/countersign/countersign/models/sqlitedb"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Dialect names the database engine behind a Store.
type Dialect string

// The supported dialects.
const (
	DialectSQLite   Dialect = "sqlite"
	DialectPostgres Dialect = "postgres"
)

// Store persists Countersign's entities through gorm. SQLite is the embedded
// default; PostgreSQL serves several replicas sharing one database.
type Store struct {
	db      *gorm.DB
	dialect Dialect
	// path is the SQLite file (empty for PostgreSQL).
	path string

	// Write transactions go through one committer goroutine (see
	// committer.go); other processes sharing the database are kept in line
	// by the chain-head lock (PostgreSQL) or busy_timeout (SQLite).
	queue chan *txJob
	// w is the committer's connection; only the committer goroutine (and
	// Close, once it has stopped) touches it.
	w         *writeConn
	closing   chan struct{}
	loopDone  chan struct{}
	closeOnce sync.Once
	// sendMu orders queueing against Close: senders hold it shared, Close
	// takes it exclusively to set closed, so no job is queued after the
	// committer and Close's final drain are gone.
	sendMu sync.RWMutex
	closed bool
}

// ParseDSN tells which dialect a database address names and returns the
// driver-level DSN. Accepted forms: "postgres://…" or "postgresql://…"
// (PostgreSQL through pgx), "sqlite:PATH" or a bare file path (SQLite).
func ParseDSN(dsn string) (Dialect, string, error) {
	dsn = strings.TrimSpace(dsn)
	switch {
	case dsn == "":
		return "", "", Invalid("database", "is empty")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		u, err := url.Parse(dsn)
		if err != nil {
			return "", "", Invalid("database", "not a valid PostgreSQL URL")
		}
		if u.Host == "" {
			return "", "", Invalid("database", "PostgreSQL URL has no host")
		}
		return DialectPostgres, dsn, nil
	case strings.Contains(dsn, "://"):
		return "", "", Invalid("database", "unsupported scheme (use postgres://… or sqlite:PATH)")
	default:
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return "", "", Invalid("database", "sqlite: needs a file path")
		}
		if strings.ContainsAny(path, "?#") {
			return "", "", Invalid("database", "SQLite path must not carry options; Countersign sets them")
		}
		return DialectSQLite, path, nil
	}
}

// sqliteDSN adds the pragmas Countersign relies on (sqlitedb.DSN): WAL,
// durable commits, foreign keys, a busy timeout, BEGIN IMMEDIATE, and a
// page cache budget shared by the pool rather than one per connection.
func sqliteDSN(path string) string { return sqlitedb.DSN(path, sqlitedb.PoolSize) }

// OpenOptions configures Open.
type OpenOptions struct {
	// DSN is a database address as accepted by ParseDSN.
	DSN string
	// Logger receives slow-query and error logs; nil discards them.
	Logger *slog.Logger
	// Existing opens an existing Countersign database only: a missing SQLite
	// file or a database without Countersign's schema is an error, and no
	// migration runs (for read-only tools such as audit verify).
	Existing bool
}

// Open connects, checks the database answers, and applies pending
// migrations. For SQLite the file's directory must already exist and be
// writable; Open never creates directories.
func Open(ctx context.Context, opts OpenOptions) (*Store, error) {
	dialect, dsn, err := ParseDSN(opts.DSN)
	if err != nil {
		return nil, err
	}
	gcfg := &gorm.Config{
		Logger:                 gormLogger(opts.Logger),
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
		DisableAutomaticPing:   true,
	}
	var dial gorm.Dialector
	switch dialect {
	case DialectSQLite:
		if opts.Existing {
			if _, err := os.Stat(dsn); err != nil {
				return nil, Invalid("database", fmt.Sprintf("no SQLite database at %s", dsn))
			}
		} else if err := checkWritableDir(filepath.Dir(dsn)); err != nil {
			return nil, err
		}
		dial = sqlitedb.Open(sqliteDSN(dsn))
	case DialectPostgres:
		dial = postgres.New(postgres.Config{DSN: dsn})
	}
	db, err := gorm.Open(dial, gcfg)
	if err != nil {
		return nil, fmt.Errorf("store: open %s database: %w", dialect, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	s := &Store{db: db, dialect: dialect, queue: make(chan *txJob, 256), w: &writeConn{db: sqlDB, dialect: dialect}, closing: make(chan struct{}), loopDone: make(chan struct{})}
	if dialect == DialectSQLite {
		s.path = dsn
		sqlDB.SetMaxOpenConns(sqlitedb.PoolSize)
		sqlDB.SetMaxIdleConns(sqlitedb.PoolSize)
	} else {
		// As many idle as open: the outbox's parallel deliveries and the
		// portal's readers come in bursts, and a pool that closes what it
		// just opened pays for a new connection on every burst.
		sqlDB.SetMaxOpenConns(32)
		sqlDB.SetMaxIdleConns(32)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("store: %s database unreachable: %w", dialect, err)
	}
	go s.commitLoop()
	if opts.Existing {
		var v int
		if err := db.WithContext(ctx).Raw(`SELECT MAX(version) FROM schema_migrations`).Scan(&v).Error; err != nil || v == 0 {
			_ = s.Close()
			return nil, Invalid("database", "not a Countersign database (no schema version)")
		}
		return s, nil
	}
	if dialect == DialectPostgres {
		// A standby or read-only server is refused before migrating, with
		// the reason rather than a failed CREATE TABLE.
		if err := s.Ready(ctx); err != nil {
			_ = s.Close()
			return nil, Invalid("database", err.Error())
		}
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.Close()
		if sqlitedb.IsReadOnly(err) {
			return nil, Invalid("database", fmt.Sprintf("%s cannot be written (the file, its -wal or -shm file, or their directory is read-only): %v", dsn, err))
		}
		return nil, err
	}
	// A store that cannot commit a write (a read-only SQLite file, a full
	// disk, a standby server) is refused now rather than discovered by the
	// first person whose approval fails.
	if err := s.Ready(ctx); err != nil {
		_ = s.Close()
		return nil, Invalid("database", err.Error())
	}
	return s, nil
}

func checkWritableDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Invalid("database", fmt.Sprintf("directory %s does not exist", dir))
		}
		return Invalid("database", fmt.Sprintf("directory %s: %v", dir, err))
	}
	if !st.IsDir() {
		return Invalid("database", fmt.Sprintf("%s is not a directory", dir))
	}
	f, err := os.CreateTemp(dir, ".countersign-write-check-*")
	if err != nil {
		return Invalid("database", fmt.Sprintf("directory %s is not writable", dir))
	}
	name := f.Name()
	_ = f.Close()
	_ = os.Remove(name)
	return nil
}

// Dialect reports which engine backs the store.
func (s *Store) Dialect() Dialect { return s.dialect }

// DB returns the gorm handle bound to ctx, for reads outside a transaction.
func (s *Store) DB(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// SQL returns the underlying database/sql pool (for streaming reads that
// must not allocate per row, and for tests).
func (s *Store) SQL() (*sql.DB, error) { return s.db.DB() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Close stops the committer (transactions already queued finish first) and
// releases the connection pool.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.sendMu.Lock()
		s.closed = true
		s.sendMu.Unlock()
		close(s.closing)
		<-s.loopDone
		for {
			select {
			case j := <-s.queue:
				s.runBatch(j)
				continue
			default:
			}
			break
		}
		s.w.close()
	})
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// WithTx runs fn in a database transaction: its changes are durably
// committed when WithTx returns nil, and rolled back entirely when fn returns
// an error or panics. A state change and its audit event are always written
// through the same tx. fn may share its commit with other callers' (group
// commit) but never sees their failures; it must not call WithTx itself.
func (s *Store) WithTx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j := &txJob{ctx: ctx, fn: fn, done: make(chan error, 1)}
	s.sendMu.RLock()
	if s.closed {
		s.sendMu.RUnlock()
		return fmt.Errorf("store: closed")
	}
	select {
	case s.queue <- j:
	case <-ctx.Done():
		s.sendMu.RUnlock()
		return ctx.Err()
	}
	s.sendMu.RUnlock()
	// Once queued the job always runs or is refused, so wait for its answer
	// even if ctx ends: returning early would hide whether it committed.
	return <-j.done
}

func gormLogger(l *slog.Logger) logger.Interface {
	if l == nil {
		return logger.Discard
	}
	return logger.NewSlogLogger(l, logger.Config{
		SlowThreshold:             500 * time.Millisecond,
		LogLevel:                  logger.Warn,
		IgnoreRecordNotFoundError: true,
		// Parameterized queries only: values may hold purposes or tokens.
		ParameterizedQueries: true,
	})
}

var _ io.Closer = (*Store)(nil)
