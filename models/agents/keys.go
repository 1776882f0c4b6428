package agents

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/contenthash"
)

// Key lifetimes.
const (
	DefaultKeyTTL = 90 * 24 * time.Hour
	MaxKeyTTL     = 366 * 24 * time.Hour
)

// KeyPrefix starts every agent API key, so secret scanners and the API can
// tell a key from a JWT at a glance.
const KeyPrefix = "cs_"

// ErrBadKey means a presented key is malformed, unknown, wrong, expired or
// revoked. Callers answer 401 without saying which.
var ErrBadKey = errors.New("agent key not valid")

// Key is one agent API key's stored record. The secret itself is never
// stored: SecretHash is the hex SHA-256 of it. The secret carries 256
// random bits, so a fast hash suffices (no preimage can be guessed, unlike
// a password) and verifying a key on every API call stays cheap.
type Key struct {
	ID         string `gorm:"primaryKey"`
	Agent      string
	SecretHash string `json:"-"`
	CreatedAt  time.Time
	CreatedBy  string
	ExpiresAt  time.Time
	RevokedAt  *time.Time
	RevokedBy  string
}

// TableName pins the table name.
func (Key) TableName() string { return "agent_keys" }

// Status says whether the key works at now.
func (k *Key) Status(now time.Time) string {
	switch {
	case k.RevokedAt != nil:
		return "revoked"
	case !now.Before(k.ExpiresAt):
		return "expired"
	}
	return "active"
}

// Keys manages agent API keys.
type Keys struct {
	store    *models.Store
	registry *Registry
	now      func() time.Time
}

// NewKeys returns the key service; keys can be made only for agents in
// registry. now nil means time.Now.
func NewKeys(store *models.Store, registry *Registry, now func() time.Time) *Keys {
	if now == nil {
		now = time.Now
	}
	return &Keys{store: store, registry: registry, now: now}
}

func (k *Keys) clock() time.Time { return k.now().UTC().Truncate(time.Microsecond) }

var keyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Create makes a key for agent valid for ttl (0 means DefaultKeyTTL) and
// returns the plain key — the only time it exists outside the agent —
// with its record. The record and its audit event commit together.
func (k *Keys) Create(ctx context.Context, agent string, ttl time.Duration, by models.Actor) (string, *Key, error) {
	if _, ok := k.registry.ByName(agent); !ok {
		return "", nil, models.Invalid("agent", fmt.Sprintf("%q is not a registered agent", agent))
	}
	if ttl == 0 {
		ttl = DefaultKeyTTL
	}
	if ttl < time.Minute || ttl > MaxKeyTTL {
		return "", nil, models.Invalid("expires", fmt.Sprintf("must be between 1m and %s", MaxKeyTTL))
	}
	var idb [10]byte
	var secret [32]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", nil, fmt.Errorf("agents: key id: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", nil, fmt.Errorf("agents: key secret: %w", err)
	}
	id := keyEncoding.EncodeToString(idb[:])
	sec := keyEncoding.EncodeToString(secret[:])
	now := k.clock()
	rec := &Key{ID: id, Agent: agent, SecretHash: hashSecret(sec), CreatedAt: now, CreatedBy: by.Display, ExpiresAt: now.Add(ttl)}
	err := k.store.WithTx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(rec).Error; err != nil {
			return fmt.Errorf("insert key: %w", err)
		}
		_, err := audit.Append(tx, now, audit.Entry{
			Type: "agent_key.created", Actor: by,
			Payload: map[string]any{"key_id": id, "agent": agent, "expires_at": contenthash.TimeString(rec.ExpiresAt)},
		})
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("agents: create key for %s: %w", agent, err)
	}
	return KeyPrefix + id + "_" + sec, rec, nil
}

// Revoke ends key id now. Revoking a revoked key is a conflict; an unknown
// id is not found.
func (k *Keys) Revoke(ctx context.Context, id string, by models.Actor) (*Key, error) {
	var rec Key
	err := k.store.WithTx(ctx, func(tx *gorm.DB) error {
		if err := tx.First(&rec, "id = ?", id).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return fmt.Errorf("key %s: %w", id, models.ErrNotFound)
			}
			return fmt.Errorf("load key %s: %w", id, err)
		}
		if rec.RevokedAt != nil {
			return fmt.Errorf("key %s is already revoked: %w", id, models.ErrConflict)
		}
		now := k.clock()
		res := tx.Model(&Key{}).Where("id = ? AND revoked_at IS NULL", id).Updates(map[string]any{"revoked_at": now, "revoked_by": by.Display})
		if res.Error != nil {
			return fmt.Errorf("revoke key %s: %w", id, res.Error)
		}
		if res.RowsAffected != 1 {
			return fmt.Errorf("key %s changed meanwhile: %w", id, models.ErrConflict)
		}
		rec.RevokedAt, rec.RevokedBy = &now, by.Display
		_, err := audit.Append(tx, now, audit.Entry{
			Type: "agent_key.revoked", Actor: by,
			Payload: map[string]any{"key_id": id, "agent": rec.Agent},
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("agents: %w", err)
	}
	return &rec, nil
}

// List returns the keys of agent (all agents when empty), newest first.
func (k *Keys) List(ctx context.Context, agent string) ([]Key, error) {
	var out []Key
	q := k.store.DB(ctx).Order("created_at DESC").Order("id")
	if agent != "" {
		q = q.Where("agent = ?", agent)
	}
	if err := q.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("agents: list keys: %w", err)
	}
	return out, nil
}

// Verify checks a presented key and returns its agent. Malformed, unknown,
// wrong, expired and revoked keys, and keys of agents no longer registered,
// all fail with ErrBadKey; the secret is compared as a SHA-256 digest in
// constant time.
func (k *Keys) Verify(ctx context.Context, presented string) (*Agent, *Key, error) {
	id, sec, ok := splitKey(presented)
	if !ok {
		return nil, nil, ErrBadKey
	}
	var rec Key
	err := k.store.DB(ctx).Where("id = ?", id).Limit(1).Find(&rec).Error
	if err != nil {
		return nil, nil, fmt.Errorf("agents: load key: %w", err)
	}
	want, _ := hex.DecodeString(rec.SecretHash)
	got := sha256.Sum256([]byte(sec))
	if rec.ID == "" || len(want) != len(got) || subtle.ConstantTimeCompare(want, got[:]) != 1 {
		return nil, nil, ErrBadKey
	}
	if rec.Status(k.clock()) != "active" {
		return nil, nil, ErrBadKey
	}
	a, ok := k.registry.ByName(rec.Agent)
	if !ok {
		return nil, nil, ErrBadKey
	}
	return a, &rec, nil
}

// splitKey takes cs_<id>_<secret> apart.
func splitKey(s string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(s, KeyPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 16 || len(secret) != 52 || !isKeyText(id) || !isKeyText(secret) {
		return "", "", false
	}
	return id, secret, true
}

func isKeyText(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// hashSecret is the stored form of a secret.
func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
