// Package grant mints, publishes and redeems execution grants: short-lived,
// single-use EdDSA-signed JWTs naming an approved request, the executor
// that may run it (audience), the action, the SHA-256 of its canonical
// parameters and the approvers. A grant row is written in the transaction
// that approves the request; no bearer token is stored, because Ed25519
// signatures are deterministic and the token is re-derived from the row and
// its key whenever someone is entitled to it.
package grant

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/contenthash"
	"github.com/countersign/countersign/models/terms"
)

// DefaultLeeway is the clock skew tolerated on exp and nbf.
const DefaultLeeway = 30 * time.Second

// State is where a grant stands.
type State string

// The grant states.
const (
	StateIssued   State = "issued"
	StateRedeemed State = "redeemed"
	StateExpired  State = "expired"
)

// Grant is the stored record of a grant.
type Grant struct {
	JTI          string `gorm:"column:jti;primaryKey"`
	RequestID    string
	Issuer       string
	Audience     string
	Action       string
	ParamsSHA256 string `gorm:"column:params_sha256"`
	ContentHash  string
	// Approvers is a JSON list of approver ids, in decision order.
	Approvers  string
	KID        string `gorm:"column:kid"`
	IssuedAt   time.Time
	ExpiresAt  time.Time
	State      State
	RedeemedAt *time.Time
	RedeemedBy string
}

// TableName pins the table name.
func (Grant) TableName() string { return "grants" }

// Claims are the token's claims. Field order is fixed, so the same row and
// key always serialise to the same token.
type Claims struct {
	jwt.Claims
	Action             string   `json:"action"`
	ParamsSHA256       string   `json:"params_sha256"`
	Approvers          []string `json:"approvers"`
	RequestContentHash string   `json:"request_content_hash"`
}

// Config configures a Service.
type Config struct {
	// Issuer is the iss claim: the portal's public URL.
	Issuer string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Leeway is the tolerated clock skew on exp and nbf; zero means
	// DefaultLeeway.
	Leeway time.Duration
	// Terms gives a request's executor and grant lifetime when none were
	// recorded at creation (see package terms); nil means defaults.
	Terms terms.Source
	// SealKey (SealKeySize bytes) encrypts the signing keys' seeds in the
	// database; empty stores them unencrypted (tests only: the portal
	// always configures one).
	SealKey []byte
}

// Service mints, derives and redeems grants.
type Service struct {
	store *models.Store
	cfg   Config
	keys  keyCache
}

// New returns a Service on store.
func New(store *models.Store, cfg Config) (*Service, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("grant: issuer is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = DefaultLeeway
	}
	sl, err := newSealer(cfg.SealKey)
	if err != nil {
		return nil, err
	}
	return &Service{store: store, cfg: cfg, keys: keyCache{sealer: sl}}, nil
}

func (s *Service) clock() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// Issuer returns the iss the service signs and expects.
func (s *Service) Issuer() string { return s.cfg.Issuer }

// ParamsHash returns the hex SHA-256 of canonical parameter JSON text (as
// stored in models.Request.Params).
func ParamsHash(canonicalParams string) string { return contenthash.Sum([]byte(canonicalParams)) }

// ParamsHashOf canonicalises raw parameter JSON (RFC 8785) and hashes it,
// so an executor's re-encoding of the same values gives the same hash.
func ParamsHashOf(raw []byte) (string, error) {
	c, err := contenthash.CanonicalizeJSON(raw)
	if err != nil {
		return "", models.Invalid("params", "must be a JSON object")
	}
	if len(c) == 0 || c[0] != '{' {
		return "", models.Invalid("params", "must be a JSON object")
	}
	return contenthash.Sum(c), nil
}

// Hook returns the approval hook that mints a grant, in the approving
// transaction, whenever an action request reaches approved (by decision or
// by policy).
func (s *Service) Hook() approval.Hook {
	return approval.HookFunc(func(tx *gorm.DB, ch approval.Change) error {
		if !ch.Moved() || ch.Request.Kind != models.KindAction {
			return nil
		}
		switch {
		case ch.To == models.StateApproved:
			_, err := s.mint(tx, ch.Request, ch.At)
			return err
		case ch.From == models.StateApproved && ch.To == models.StateExpired:
			return s.expire(tx, ch.Request, ch.At)
		}
		return nil
	})
}

// expire marks the request's unredeemed grant expired as the request
// expires. If the grant was redeemed meanwhile the expiry is vetoed: an
// executor is running the action.
func (s *Service) expire(tx *gorm.DB, r *models.Request, at time.Time) error {
	g, err := load(tx, r.ID)
	if errors.Is(err, models.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	res := tx.Model(&Grant{}).Where("jti = ? AND redeemed_at IS NULL AND state = ?", g.JTI, StateIssued).Update("state", StateExpired)
	if res.Error != nil {
		return fmt.Errorf("grant: expire grant of %s: %w", r.ID, res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("grant: grant of %s was redeemed; it cannot expire: %w", r.ID, models.ErrConflict)
	}
	_, err = audit.Append(tx, at, audit.Entry{
		Type: "grant.expired", Actor: models.SystemActor("expiry"), RequestID: r.ID, Purpose: r.Purpose,
		Action: r.Action, PolicyRef: r.PolicyRef,
		Payload: map[string]any{"jti": g.JTI, "aud": g.Audience, "exp": contenthash.TimeString(g.ExpiresAt)},
	})
	return err
}

// Overdue lists the requests whose grant is still unredeemed although it
// expired (beyond the leeway) before now, oldest first, at most limit.
func (s *Service) Overdue(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var ids []string
	// Only requests still approved: one that ended otherwise (an operator
	// moved it) keeps an unredeemed grant that nobody can spend anyway.
	err := s.store.DB(ctx).Model(&Grant{}).
		Joins("JOIN requests ON requests.id = grants.request_id").
		Where("grants.state = ? AND grants.redeemed_at IS NULL AND grants.expires_at < ? AND requests.state = ?", StateIssued, now.Add(-s.cfg.Leeway), models.StateApproved).
		Order("grants.expires_at").Limit(limit).Pluck("grants.request_id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("grant: overdue grants: %w", err)
	}
	return ids, nil
}

// newJTI returns a random 128-bit grant id.
func newJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// mint writes the grant row and its audit event in tx.
func (s *Service) mint(tx *gorm.DB, r *models.Request, at time.Time) (*Grant, error) {
	t, found, err := terms.Load(tx, r.ID)
	if err != nil {
		return nil, err
	}
	if !found && s.cfg.Terms != nil {
		t = s.cfg.Terms(r)
	}
	key, err := s.signingKey(tx)
	if err != nil {
		return nil, err
	}
	var approvers []string
	if err := tx.Model(&models.Decision{}).
		Where("request_id = ? AND content_hash = ? AND verdict = ?", r.ID, r.ContentHash, models.VerdictApprove).
		Order("id").Pluck("approver_id", &approvers).Error; err != nil {
		return nil, fmt.Errorf("grant: approvers of %s: %w", r.ID, err)
	}
	if approvers == nil {
		approvers = []string{}
	}
	ab, _ := json.Marshal(approvers)
	// NumericDate has whole seconds: store exactly what the token says.
	iat := at.UTC().Truncate(time.Second)
	g := &Grant{
		JTI: newJTI(), RequestID: r.ID, Issuer: s.cfg.Issuer, Audience: audienceFor(r, t),
		Action: r.Action, ParamsSHA256: ParamsHash(r.Params), ContentHash: r.ContentHash,
		Approvers: string(ab), KID: key.KID, IssuedAt: iat, ExpiresAt: iat.Add(t.GrantLifetime()), State: StateIssued,
	}
	if err := tx.Create(g).Error; err != nil {
		return nil, fmt.Errorf("grant: insert grant for %s: %w", r.ID, err)
	}
	_, err = audit.Append(tx, at, audit.Entry{
		Type: "grant.issued", Actor: models.SystemActor("grant"), RequestID: r.ID, Purpose: r.Purpose,
		Action: r.Action, PolicyRef: r.PolicyRef,
		Payload: map[string]any{
			"jti": g.JTI, "aud": g.Audience, "kid": g.KID, "params_sha256": g.ParamsSHA256,
			"approvers": approvers, "content_hash": g.ContentHash,
			"iat": contenthash.TimeString(g.IssuedAt), "exp": contenthash.TimeString(g.ExpiresAt),
		},
	})
	return g, err
}

// AgentAudiencePrefix starts the audience of a grant that the requesting
// agent redeems itself (its action names no executor).
const AgentAudiencePrefix = "agent:"

// audienceFor is the action's executor, or for an agent's request whose
// action names none, the agent itself.
func audienceFor(r *models.Request, t terms.Terms) string {
	if t.Executor != "" {
		return t.Executor
	}
	if r.RequesterType == models.ActorAgent {
		return AgentAudiencePrefix + r.RequesterID
	}
	return ""
}

// Get returns the grant of request id.
func (s *Service) Get(ctx context.Context, requestID string) (*Grant, error) {
	return load(s.store.DB(ctx), requestID)
}

// Terms returns the terms frozen on request requestID when it was created:
// the executor its grant will be for and the grant's lifetime, which the
// request page shows before anyone approves. found is false for requests
// without recorded terms.
func (s *Service) Terms(ctx context.Context, requestID string) (t terms.Terms, found bool, err error) {
	return terms.Load(s.store.DB(ctx), requestID)
}

func load(db *gorm.DB, requestID string) (*Grant, error) {
	var g Grant
	err := db.Take(&g, "request_id = ?", requestID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("grant: no grant for request %s: %w", requestID, models.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("grant: load grant of %s: %w", requestID, err)
	}
	return &g, nil
}

// ApproverIDs decodes the grant's approver list.
func (g *Grant) ApproverIDs() []string {
	var out []string
	_ = json.Unmarshal([]byte(g.Approvers), &out)
	if out == nil {
		out = []string{}
	}
	return out
}

// Token returns the signed token of request id's grant, re-derived from the
// stored row and its key. It is refused (models.ErrConflict) once the grant
// expired or its key was retired.
func (s *Service) Token(ctx context.Context, requestID string) (string, error) {
	db := s.store.DB(ctx)
	g, err := load(db, requestID)
	if err != nil {
		return "", err
	}
	if g.State == StateExpired {
		return "", fmt.Errorf("grant: grant of %s expired: %w", requestID, models.ErrConflict)
	}
	key, published, err := s.keyByID(db, g.KID)
	if err != nil {
		return "", err
	}
	if !published {
		return "", fmt.Errorf("grant: key of %s's grant was retired: %w", requestID, models.ErrConflict)
	}
	return sign(g, key)
}

// ClaimsOf returns the claims a grant row stands for.
func ClaimsOf(g *Grant) Claims {
	iat := jwt.NewNumericDate(g.IssuedAt)
	return Claims{
		Claims: jwt.Claims{
			Issuer: g.Issuer, Subject: g.RequestID, Audience: jwt.Audience{g.Audience}, ID: g.JTI,
			IssuedAt: iat, NotBefore: iat, Expiry: jwt.NewNumericDate(g.ExpiresAt),
		},
		Action: g.Action, ParamsSHA256: g.ParamsSHA256, Approvers: g.ApproverIDs(), RequestContentHash: g.ContentHash,
	}
}

func sign(g *Grant, key *Key) (string, error) {
	sig, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: key.Private, KeyID: key.KID}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return "", fmt.Errorf("grant: signer: %w", err)
	}
	tok, err := jwt.Signed(sig).Claims(ClaimsOf(g)).Serialize()
	if err != nil {
		return "", fmt.Errorf("grant: sign: %w", err)
	}
	return tok, nil
}
