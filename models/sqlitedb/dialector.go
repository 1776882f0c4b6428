// Package sqlitedb is a small gorm dialector for SQLite through the pure-Go
// modernc.org/sqlite driver (no cgo). It carries only what Countersign uses:
// schema changes are versioned SQL migrations, so gorm's own migrator is the
// generic one and never creates tables.
//
// Why not an off-the-shelf dialector: gorm.io/driver/sqlite links the cgo
// driver, and the pure-Go forks pin a SQLite build about half as fast at
// streaming rows, which the audit verifier depends on.
package sqlitedb

import (
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/callbacks"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
	"gorm.io/gorm/migrator"
	"gorm.io/gorm/schema"

	// The pure-Go SQLite driver, registered as "sqlite".
	_ "modernc.org/sqlite"
)

// Dialector opens SQLite for gorm.
type Dialector struct {
	// DSN is a modernc.org/sqlite data source name ("file:PATH?_pragma=…").
	DSN string
}

// Open returns a dialector for dsn.
func Open(dsn string) gorm.Dialector { return Dialector{DSN: dsn} }

// Name implements gorm.Dialector.
func (Dialector) Name() string { return "sqlite" }

// Initialize opens the pool and registers gorm's callbacks with the clauses
// SQLite ≥ 3.35 understands (RETURNING included).
func (d Dialector) Initialize(db *gorm.DB) error {
	conn, err := sql.Open("sqlite", d.DSN)
	if err != nil {
		return fmt.Errorf("sqlitedb: open: %w", err)
	}
	db.ConnPool = conn
	callbacks.RegisterDefaultCallbacks(db, &callbacks.Config{
		CreateClauses:        []string{"INSERT", "VALUES", "ON CONFLICT", "RETURNING"},
		UpdateClauses:        []string{"UPDATE", "SET", "FROM", "WHERE", "RETURNING"},
		DeleteClauses:        []string{"DELETE", "FROM", "WHERE", "RETURNING"},
		LastInsertIDReversed: true,
	})
	db.ClauseBuilders["LIMIT"] = buildLimit
	db.ClauseBuilders["FOR"] = func(c clause.Clause, b clause.Builder) {
		// SQLite has no row locks; a write transaction (BEGIN IMMEDIATE)
		// already excludes other writers.
		if _, ok := c.Expression.(clause.Locking); ok {
			return
		}
		c.Build(b)
	}
	return nil
}

// buildLimit writes LIMIT/OFFSET the way SQLite wants them (OFFSET needs a
// LIMIT, -1 meaning none).
func buildLimit(c clause.Clause, b clause.Builder) {
	limit, ok := c.Expression.(clause.Limit)
	if !ok {
		c.Build(b)
		return
	}
	lmt := -1
	if limit.Limit != nil && *limit.Limit >= 0 {
		lmt = *limit.Limit
	}
	if lmt >= 0 || limit.Offset > 0 {
		b.WriteString("LIMIT ")
		b.WriteString(strconv.Itoa(lmt))
	}
	if limit.Offset > 0 {
		b.WriteString(" OFFSET ")
		b.WriteString(strconv.Itoa(limit.Offset))
	}
}

// Migrator implements gorm.Dialector with gorm's generic migrator (unused:
// Countersign migrates with versioned SQL files).
func (d Dialector) Migrator(db *gorm.DB) gorm.Migrator {
	return migrator.Migrator{Config: migrator.Config{DB: db, Dialector: d}}
}

// DataTypeOf implements gorm.Dialector.
func (Dialector) DataTypeOf(f *schema.Field) string {
	switch f.DataType {
	case schema.Bool:
		return "BOOLEAN"
	case schema.Int, schema.Uint:
		return "INTEGER"
	case schema.Float:
		return "REAL"
	case schema.Time:
		return "DATETIME"
	case schema.Bytes:
		return "BLOB"
	default:
		return "TEXT"
	}
}

// DefaultValueOf implements gorm.Dialector.
func (Dialector) DefaultValueOf(f *schema.Field) clause.Expression {
	if f.AutoIncrement {
		return clause.Expr{SQL: "NULL"}
	}
	return clause.Expr{SQL: "DEFAULT"}
}

// BindVarTo implements gorm.Dialector.
func (Dialector) BindVarTo(w clause.Writer, _ *gorm.Statement, _ any) { _ = w.WriteByte('?') }

// QuoteTo quotes an identifier, each dotted part separately.
func (Dialector) QuoteTo(w clause.Writer, s string) {
	for i, part := range strings.Split(s, ".") {
		if i > 0 {
			_ = w.WriteByte('.')
		}
		_ = w.WriteByte('"')
		_, _ = w.WriteString(strings.ReplaceAll(part, `"`, `""`))
		_ = w.WriteByte('"')
	}
}

// Explain implements gorm.Dialector for logging.
func (Dialector) Explain(sql string, vars ...any) string {
	return logger.ExplainSQL(sql, nil, `'`, vars...)
}

// SavePoint implements gorm's savepoint support (used by group commit).
func (Dialector) SavePoint(tx *gorm.DB, name string) error {
	return tx.Exec("SAVEPOINT " + name).Error
}

// RollbackTo implements gorm's savepoint support.
func (Dialector) RollbackTo(tx *gorm.DB, name string) error {
	return tx.Exec("ROLLBACK TO SAVEPOINT " + name).Error
}
