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

	"github.com/glebarez/sqlite"
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
	// writeMu serialises write transactions on SQLite inside one process, so
	// concurrent writers queue here instead of spinning on SQLITE_BUSY.
	// Other processes sharing the file are handled by busy_timeout.
	writeMu sync.Mutex
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

// sqliteDSN adds the pragmas Countersign relies on: WAL, durable commits
// (synchronous=FULL: an acknowledged change survives power loss), foreign
// keys, a busy timeout for other processes, and BEGIN IMMEDIATE so a write
// transaction never has to upgrade its lock halfway.
func sqliteDSN(path string) string {
	return "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_txlock=immediate"
}

// OpenOptions configures Open.
type OpenOptions struct {
	// DSN is a database address as accepted by ParseDSN.
	DSN string
	// Logger receives slow-query and error logs; nil discards them.
	Logger *slog.Logger
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
		if err := checkWritableDir(filepath.Dir(dsn)); err != nil {
			return nil, err
		}
		dial = sqlite.Open(sqliteDSN(dsn))
	case DialectPostgres:
		dial = postgres.New(postgres.Config{DSN: dsn})
	}
	db, err := gorm.Open(dial, gcfg)
	if err != nil {
		return nil, fmt.Errorf("store: open %s database: %w", dialect, err)
	}
	s := &Store{db: db, dialect: dialect}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if dialect == DialectSQLite {
		sqlDB.SetMaxOpenConns(8)
		sqlDB.SetMaxIdleConns(8)
	} else {
		sqlDB.SetMaxOpenConns(32)
		sqlDB.SetMaxIdleConns(16)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("store: %s database unreachable: %w", dialect, err)
	}
	if err := s.migrate(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
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

// Close releases the connection pool.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// WithTx runs fn in one database transaction: committed if fn returns nil,
// rolled back otherwise (and on panic). A state change and its audit event
// are always written through the same tx.
func (s *Store) WithTx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if s.dialect == DialectSQLite {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
	}
	return s.db.WithContext(ctx).Transaction(fn)
}

// LockingClause returns the row-lock suffix for "SELECT … FOR UPDATE" on
// dialects that have it; SQLite's BEGIN IMMEDIATE already holds the write
// lock for the whole transaction.
func (s *Store) LockingClause() string {
	if s.dialect == DialectPostgres {
		return " FOR UPDATE"
	}
	return ""
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
