package grant

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
)

// KeyRow is a stored grant signing key. Seed is the Ed25519 private-key
// seed, sealed with AES-256-GCM under the portal's seal key (see seal.go;
// plain base64url only when no seal key is configured). The keys live in
// the database so that every replica signs with, publishes and re-derives
// tokens from the same keys, and a rotation made by one replica is seen by
// all; sealing keeps a copy of the database (a backup, a dump) from being
// enough to sign grants.
type KeyRow struct {
	KID       string `gorm:"column:kid;primaryKey"`
	Seed      string
	CreatedAt time.Time
	RetiredAt *time.Time
}

// TableName pins the table name.
func (KeyRow) TableName() string { return "grant_keys" }

// Key is a usable signing key.
type Key struct {
	KID       string
	Private   ed25519.PrivateKey
	CreatedAt time.Time
}

// Public returns the key's public JWK.
func (k *Key) Public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.Private.Public(), KeyID: k.KID, Algorithm: string(jose.EdDSA), Use: "sig"}
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of pub, base64url:
// the key's kid.
func Thumbprint(pub ed25519.PublicKey) (string, error) {
	t, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("grant: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(t), nil
}

// keyCache holds parsed keys by kid; key rows never change except for
// retirement, which is always read from the database.
type keyCache struct {
	mu     sync.RWMutex
	keys   map[string]*Key
	sealer *sealer
}

func (c *keyCache) parse(row *KeyRow) (*Key, error) {
	c.mu.RLock()
	k, ok := c.keys[row.KID]
	c.mu.RUnlock()
	if ok {
		return k, nil
	}
	seed, err := c.sealer.open(row.KID, row.Seed)
	if err != nil {
		return nil, err
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("grant: key %s: stored seed is malformed", row.KID)
	}
	k = &Key{KID: row.KID, Private: ed25519.NewKeyFromSeed(seed), CreatedAt: row.CreatedAt}
	c.mu.Lock()
	if c.keys == nil {
		c.keys = map[string]*Key{}
	}
	c.keys[row.KID] = k
	c.mu.Unlock()
	return k, nil
}

// newKeyRow makes a fresh key row, its seed sealed by sl.
func newKeyRow(now time.Time, sl *sealer) (*KeyRow, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("grant: generate key: %w", err)
	}
	kid, err := Thumbprint(pub)
	if err != nil {
		return nil, err
	}
	seed, err := sl.seal(kid, priv.Seed())
	if err != nil {
		return nil, err
	}
	return &KeyRow{KID: kid, Seed: seed, CreatedAt: now}, nil
}

// signingKey returns the newest unretired key, read through tx.
func (s *Service) signingKey(tx *gorm.DB) (*Key, error) {
	var row KeyRow
	err := tx.Where("retired_at IS NULL").Order("created_at DESC, kid DESC").Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("grant: no signing key (call EnsureKey at start): %w", models.ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("grant: load signing key: %w", err)
	}
	return s.keys.parse(&row)
}

// keyByID returns key kid whether retired or not (for re-deriving a token)
// and whether it is still published.
func (s *Service) keyByID(db *gorm.DB, kid string) (*Key, bool, error) {
	var row KeyRow
	err := db.Take(&row, "kid = ?", kid).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, false, fmt.Errorf("grant: key %s: %w", kid, models.ErrNotFound)
	}
	if err != nil {
		return nil, false, fmt.Errorf("grant: load key %s: %w", kid, err)
	}
	k, err := s.keys.parse(&row)
	return k, row.RetiredAt == nil, err
}

// EnsureKey makes sure a signing key exists, creating the first one at
// first start, and returns the kid of the key that signs.
func (s *Service) EnsureKey(ctx context.Context) (string, error) {
	var kid string
	err := s.store.WithTx(ctx, func(tx *gorm.DB) error {
		k, err := s.signingKey(tx)
		if err == nil {
			kid = k.KID
			return nil
		}
		if !errors.Is(err, models.ErrConflict) {
			return err
		}
		kid, err = s.addKey(tx)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("grant: ensure key: %w", err)
	}
	return kid, nil
}

func (s *Service) addKey(tx *gorm.DB) (string, error) {
	now := s.clock()
	// Keys are ordered by creation: a new key must sort after every older
	// one even if the clock stood still or went back.
	var newest KeyRow
	if err := tx.Order("created_at DESC").Take(&newest).Error; err == nil && !now.After(newest.CreatedAt) {
		now = newest.CreatedAt.Add(time.Microsecond)
	}
	row, err := newKeyRow(now, s.keys.sealer)
	if err != nil {
		return "", err
	}
	if err := tx.Create(row).Error; err != nil {
		return "", fmt.Errorf("grant: store key: %w", err)
	}
	_, err = audit.Append(tx, now, audit.Entry{
		Type: "grant.key_created", Actor: models.SystemActor("grant keys"),
		Payload: map[string]any{"kid": row.KID, "alg": "EdDSA", "crv": "Ed25519"},
	})
	return row.KID, err
}

// Rotate adds a new signing key: from now on it signs new grants, while
// the older keys stay published (grants they signed keep verifying) until
// they are retired.
func (s *Service) Rotate(ctx context.Context) (string, error) {
	var kid string
	err := s.store.WithTx(ctx, func(tx *gorm.DB) error {
		var err error
		kid, err = s.addKey(tx)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("grant: rotate key: %w", err)
	}
	return kid, nil
}

// Retire stops publishing key kid: grants it signed no longer verify. The
// newest key (the one signing) cannot be retired; rotate first.
func (s *Service) Retire(ctx context.Context, kid string) error {
	err := s.store.WithTx(ctx, func(tx *gorm.DB) error {
		cur, err := s.signingKey(tx)
		if err != nil {
			return err
		}
		if cur.KID == kid {
			return models.Invalid("kid", "the signing key cannot be retired; rotate first")
		}
		now := s.clock()
		res := tx.Model(&KeyRow{}).Where("kid = ? AND retired_at IS NULL", kid).Update("retired_at", now)
		if res.Error != nil {
			return fmt.Errorf("retire key %s: %w", kid, res.Error)
		}
		if res.RowsAffected != 1 {
			return fmt.Errorf("key %s is unknown or already retired: %w", kid, models.ErrNotFound)
		}
		_, err = audit.Append(tx, now, audit.Entry{
			Type: "grant.key_retired", Actor: models.SystemActor("grant keys"), Payload: map[string]any{"kid": kid},
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("grant: %w", err)
	}
	return nil
}

// JWKS returns the published public keys, newest first.
func (s *Service) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	var rows []KeyRow
	if err := s.store.DB(ctx).Where("retired_at IS NULL").Order("created_at DESC, kid DESC").Find(&rows).Error; err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("grant: list keys: %w", err)
	}
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(rows))}
	for i := range rows {
		k, err := s.keys.parse(&rows[i])
		if err != nil {
			return set, err
		}
		set.Keys = append(set.Keys, k.Public())
	}
	return set, nil
}
