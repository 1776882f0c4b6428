package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
)

// Default lifetimes (OWASP ASVS 7.3: an idle and an absolute timeout).
const (
	// DefaultIdleTimeout ends a session nobody used for half an hour.
	DefaultIdleTimeout = 30 * time.Minute
	// DefaultAbsoluteTimeout ends every session after a working day,
	// however active: a stolen cookie cannot be kept alive forever.
	DefaultAbsoluteTimeout = 12 * time.Hour
)

// touchEvery bounds how often activity is written back. Writing on every
// request would put one database write behind every page view; a minute
// of imprecision in the idle timeout costs nothing.
const touchEvery = time.Minute

// sweepEvery bounds how often expired rows are deleted in passing.
const sweepEvery = 5 * time.Minute

// Errors of the session store.
var (
	// ErrNoSession means the browser has no valid session: no cookie, an
	// unknown or malformed id, or an expired (now deleted) session.
	ErrNoSession = errors.New("session: no valid session")
	// ErrNoPending means the session has no sign-in in progress: none was
	// started, or it was already completed (a replayed callback).
	ErrNoPending = errors.New("session: no sign-in in progress")
)

// Config sets the session lifetimes.
type Config struct {
	// IdleTimeout ends a session not used for this long. Default 30 min.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after sign-in, however
	// active. Default 12 h. Must not be shorter than IdleTimeout.
	AbsoluteTimeout time.Duration
	// Now is the clock; nil means time.Now. Tests move it.
	Now func() time.Time
	// Logger receives failures of the background clean-up, which never
	// fail a request. Nil discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.AbsoluteTimeout == 0 {
		c.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if c.IdleTimeout < time.Minute || c.AbsoluteTimeout < c.IdleTimeout {
		return c, fmt.Errorf("session: idle timeout %s must be at least 1m and not longer than the absolute timeout %s", c.IdleTimeout, c.AbsoluteTimeout)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Store keeps sessions in the sessions table. Every write goes through
// models.Store.WithTx; reads use the pool directly. It is safe for
// concurrent use and holds no per-session state in memory, so several
// replicas can share one PostgreSQL database.
type Store struct {
	db  *models.Store
	cfg Config
	// nextSweep is the unix-microsecond time of the next clean-up.
	nextSweep atomic.Int64
}

// NewStore returns a session store on db.
func NewStore(db *models.Store, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("session: store: database is required")
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Store{db: db, cfg: c}, nil
}

// Config returns the lifetimes the store applies.
func (s *Store) Config() Config { return s.cfg }

func (s *Store) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// deadline is the effective expiry: idle from now, capped by absolute.
func (s *Store) deadline(now, absolute time.Time) time.Time {
	idle := now.Add(s.cfg.IdleTimeout)
	if idle.After(absolute) {
		return absolute
	}
	return idle
}

// Create starts an anonymous session (fresh id and CSRF token). The
// sign-in handler creates one to hold the login in progress.
func (s *Store) Create(ctx context.Context) (*Session, error) {
	id, csrf, err := newIDAndCSRF()
	if err != nil {
		return nil, err
	}
	now := s.now()
	abs := now.Add(s.cfg.AbsoluteTimeout)
	r := row{IDHash: hashID(id), CSRFToken: csrf, CreatedAt: now, LastSeenAt: now, ExpiresAt: s.deadline(now, abs), AbsoluteExpiresAt: abs}
	if err := s.db.WithTx(ctx, func(tx *gorm.DB) error { return tx.Create(&r).Error }); err != nil {
		return nil, fmt.Errorf("session: create: %w", err)
	}
	s.sweep(ctx, now)
	return r.toSession(id)
}

// Load returns the session whose cookie value is id. A malformed, unknown
// or expired id yields ErrNoSession; an expired row is deleted on the way.
// Activity is recorded (pushing the idle deadline) at most once a minute.
func (s *Store) Load(ctx context.Context, id string) (*Session, error) {
	if !wellFormed(id) {
		return nil, ErrNoSession
	}
	var r row
	err := s.db.DB(ctx).Where("id_hash = ?", hashID(id)).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("session: load: %w", err)
	}
	now := s.now()
	if !now.Before(r.ExpiresAt) || !now.Before(r.AbsoluteExpiresAt) {
		if err := s.deleteHash(ctx, r.IDHash); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: expired at %s", ErrNoSession, r.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if now.Sub(r.LastSeenAt) >= touchEvery {
		r.LastSeenAt, r.ExpiresAt = now, s.deadline(now, r.AbsoluteExpiresAt)
		var n int64
		err := s.db.WithTx(ctx, func(tx *gorm.DB) error {
			res := tx.Model(&row{}).Where("id_hash = ?", r.IDHash).
				Updates(map[string]any{"last_seen_at": r.LastSeenAt, "expires_at": r.ExpiresAt})
			n = res.RowsAffected
			return res.Error
		})
		if err != nil {
			return nil, fmt.Errorf("session: record activity: %w", err)
		}
		if n == 0 {
			// Ended (logout, rotation) between the read and the write.
			return nil, ErrNoSession
		}
	}
	return r.toSession(id)
}

// Delete ends sess. Deleting a session that is already gone is not an
// error: the outcome (no session) is the same.
func (s *Store) Delete(ctx context.Context, sess *Session) error {
	if sess == nil {
		return nil
	}
	return s.deleteHash(ctx, sess.idHash)
}

func (s *Store) deleteHash(ctx context.Context, idHash string) error {
	err := s.db.WithTx(ctx, func(tx *gorm.DB) error {
		return tx.Where("id_hash = ?", idHash).Delete(&row{}).Error
	})
	if err != nil {
		return fmt.Errorf("session: delete: %w", err)
	}
	return nil
}

// DeleteExpired removes every session past its idle or absolute deadline
// and returns how many it removed.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	now := s.now()
	var n int64
	err := s.db.WithTx(ctx, func(tx *gorm.DB) error {
		res := tx.Where("expires_at <= ? OR absolute_expires_at <= ?", now, now).Delete(&row{})
		n = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return 0, fmt.Errorf("session: delete expired: %w", err)
	}
	return n, nil
}

// sweep deletes expired rows when the last sweep is long enough ago. It is
// called from Create, so the table is cleaned as sign-ins happen, without a
// background goroutine; a failure is logged, never returned.
func (s *Store) sweep(ctx context.Context, now time.Time) {
	next := s.nextSweep.Load()
	if now.UnixMicro() < next || !s.nextSweep.CompareAndSwap(next, now.Add(sweepEvery).UnixMicro()) {
		return
	}
	if n, err := s.DeleteExpired(ctx); err != nil {
		s.cfg.Logger.WarnContext(ctx, "session clean-up failed", slog.String("error", err.Error()))
	} else if n > 0 {
		s.cfg.Logger.DebugContext(ctx, "expired sessions deleted", slog.Int64("count", n))
	}
}
