package session

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// SignIn ends sess and returns a new session (new id, new CSRF token) for
// u, with fresh idle and absolute deadlines. Issuing a new id at sign-in is
// what defeats session fixation: an id planted or seen before sign-in is
// worthless after it.
func (s *Store) SignIn(ctx context.Context, sess *Session, u *User, rawIDToken string) (*Session, error) {
	return s.rotate(ctx, sess, u, rawIDToken, true)
}

// Reauthenticate ends sess and returns a new session for u after a
// step-up: new id and CSRF token, same absolute deadline (a step-up proves
// the person is present; it does not extend how long the session may live).
func (s *Store) Reauthenticate(ctx context.Context, sess *Session, u *User, rawIDToken string) (*Session, error) {
	return s.rotate(ctx, sess, u, rawIDToken, false)
}

func (s *Store) rotate(ctx context.Context, old *Session, u *User, rawIDToken string, newWindow bool) (*Session, error) {
	if old == nil || u == nil {
		return nil, ErrNoSession
	}
	id, csrf, err := newIDAndCSRF()
	if err != nil {
		return nil, err
	}
	userData, err := encodeUser(u)
	if err != nil {
		return nil, err
	}
	var next row
	err = s.db.WithTx(ctx, func(tx *gorm.DB) error {
		var prev row
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("id_hash = ?", old.idHash).Take(&prev).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrNoSession
		}
		if err != nil {
			return err
		}
		now := s.now()
		next = row{
			IDHash: hashID(id), CSRFToken: csrf, UserData: userData, Subject: u.Subject, IDToken: rawIDToken,
			CreatedAt: prev.CreatedAt, LastSeenAt: now, AbsoluteExpiresAt: prev.AbsoluteExpiresAt,
		}
		if newWindow {
			next.CreatedAt, next.AbsoluteExpiresAt = now, now.Add(s.cfg.AbsoluteTimeout)
		}
		if !now.Before(next.AbsoluteExpiresAt) {
			return ErrNoSession
		}
		next.ExpiresAt = s.deadline(now, next.AbsoluteExpiresAt)
		if err := tx.Create(&next).Error; err != nil {
			return err
		}
		return tx.Where("id_hash = ?", prev.IDHash).Delete(&row{}).Error
	})
	if errors.Is(err, ErrNoSession) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("session: rotate: %w", err)
	}
	return next.toSession(id)
}
