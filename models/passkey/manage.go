package passkey

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
)

// List returns ownerID's passkeys, revoked ones included, oldest first.
func (s *Service) List(ctx context.Context, ownerID string) ([]models.Passkey, error) {
	var out []models.Passkey
	if err := s.store.DB(ctx).Where("owner_id = ?", ownerID).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("passkey: list: %w", err)
	}
	return out, nil
}

// Active reports how many unrevoked passkeys ownerID has.
func (s *Service) Active(ctx context.Context, ownerID string) (int, error) {
	var n int64
	if err := s.store.DB(ctx).Model(&models.Passkey{}).Where("owner_id = ? AND revoked_at IS NULL", ownerID).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("passkey: count: %w", err)
	}
	return int(n), nil
}

// Rename names owner's passkey id, with its passkey.renamed audit event.
func (s *Service) Rename(ctx context.Context, owner models.Actor, auth Auth, id int64, name string) error {
	now := s.clock()
	if err := s.fresh(auth, now); err != nil {
		return err
	}
	name, err := ValidateName(name)
	if err != nil {
		return err
	}
	return s.change(ctx, owner, id, func(tx *gorm.DB, pk *models.Passkey) error {
		if pk.RevokedAt != nil {
			return ErrRevoked
		}
		if err := tx.Model(&models.Passkey{}).Where("id = ?", pk.ID).Update("name", name).Error; err != nil {
			return fmt.Errorf("passkey: rename: %w", err)
		}
		_, err := audit.Append(tx, now, audit.Entry{Type: "passkey.renamed", Actor: owner, Payload: map[string]any{
			"credential_id": pk.CredentialID, "from": pk.Name, "to": name,
		}})
		return err
	})
}

// Revoke revokes owner's passkey id, with its passkey.revoked audit
// event: from then on no decision it signs counts, and receipts signed
// later fail verification. Revoking twice is a conflict.
func (s *Service) Revoke(ctx context.Context, owner models.Actor, auth Auth, id int64) error {
	now := s.clock()
	if err := s.fresh(auth, now); err != nil {
		return err
	}
	return s.change(ctx, owner, id, func(tx *gorm.DB, pk *models.Passkey) error {
		res := tx.Model(&models.Passkey{}).Where("id = ? AND revoked_at IS NULL", pk.ID).Update("revoked_at", now)
		if res.Error != nil {
			return fmt.Errorf("passkey: revoke: %w", res.Error)
		}
		if res.RowsAffected != 1 {
			return fmt.Errorf("%w: %w", ErrRevoked, models.ErrConflict)
		}
		_, err := audit.Append(tx, now, audit.Entry{Type: "passkey.revoked", Actor: owner, Payload: map[string]any{
			"credential_id": pk.CredentialID, "name": pk.Name, "revoked_at": now.Format("2006-01-02T15:04:05.000000Z07:00"),
		}})
		return err
	})
}

// change loads owner's passkey id and runs fn in one transaction.
// Someone else's passkey is not found, not forbidden: its existence is
// not theirs to learn.
func (s *Service) change(ctx context.Context, owner models.Actor, id int64, fn func(tx *gorm.DB, pk *models.Passkey) error) error {
	err := s.store.WithTx(ctx, func(tx *gorm.DB) error {
		var pk models.Passkey
		if err := tx.First(&pk, "id = ? AND owner_id = ?", id, owner.ID).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return fmt.Errorf("passkey %d: %w", id, models.ErrNotFound)
			}
			return fmt.Errorf("passkey: load: %w", err)
		}
		return fn(tx, &pk)
	})
	if err != nil {
		return fmt.Errorf("passkey: %w", err)
	}
	return nil
}
