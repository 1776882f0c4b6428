package mmreal

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"strings"
	"time"

	// The pgx driver registers itself as "pgx" for database/sql.
	_ "github.com/jackc/pgx/v5/stdlib"
)

// database is a PostgreSQL database of one test server.
type database struct {
	name string
	dsn  string
}

// createDatabase makes an empty database mm_it_<random> on the local
// PostgreSQL. Its error says whether PostgreSQL answered at all.
func createDatabase(ctx context.Context) (*database, error) {
	db, err := sql.Open("pgx", PostgresAdminURL)
	if err != nil {
		return nil, fmt.Errorf("mmreal: open postgres: %w", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		return nil, &unavailableError{fmt.Sprintf("no PostgreSQL at 127.0.0.1:5432 (%v)", err)}
	}
	name := "mm_it_" + strings.ToLower(rand.Text()[:12])
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return nil, fmt.Errorf("mmreal: create database %s: %w", name, err)
	}
	return &database{name: name, dsn: "postgres://postgres@127.0.0.1:5432/" + name + "?sslmode=disable"}, nil
}

// drop removes the database, closing whatever connections remain.
func (d *database) drop() error {
	db, err := sql.Open("pgx", PostgresAdminURL)
	if err != nil {
		return fmt.Errorf("mmreal: open postgres: %w", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+d.name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("mmreal: drop database %s: %w", d.name, err)
	}
	return nil
}

// unavailableError is a missing prerequisite: the test skips (or fails
// when the server is required) rather than reporting a broken harness.
type unavailableError struct{ why string }

func (e *unavailableError) Error() string { return e.why }
