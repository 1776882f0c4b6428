package grant

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/contenthash"
)

// Reason says why a redemption was refused. The values are stable: they
// are the "reason" of the redeem API's error and of "grant.refused" audit
// events.
type Reason string

// The refusal reasons.
const (
	ReasonMalformed      Reason = "malformed"
	ReasonUnknownKey     Reason = "unknown_key"
	ReasonBadSignature   Reason = "bad_signature"
	ReasonWrongIssuer    Reason = "wrong_issuer"
	ReasonExpired        Reason = "expired"
	ReasonNotYetValid    Reason = "not_yet_valid"
	ReasonWrongAudience  Reason = "wrong_audience"
	ReasonParamsMismatch Reason = "params_mismatch"
	ReasonUnknownGrant   Reason = "unknown_grant"
	ReasonReplayed       Reason = "replayed"
	ReasonNotApproved    Reason = "request_not_approved"
	ReasonWrongRequest   Reason = "wrong_request"
)

// RefusedError is a refused redemption. It matches models.ErrConflict for
// a replay and models.ErrForbidden otherwise.
type RefusedError struct {
	Reason Reason
	// Detail says it in words, for the caller.
	Detail string
}

// Error implements error.
func (e *RefusedError) Error() string { return "grant refused (" + string(e.Reason) + "): " + e.Detail }

// Is maps the refusal to a sentinel.
func (e *RefusedError) Is(target error) bool {
	if e.Reason == ReasonReplayed {
		return target == models.ErrConflict
	}
	return target == models.ErrForbidden
}

func refused(r Reason, format string, a ...any) *RefusedError {
	return &RefusedError{Reason: r, Detail: fmt.Sprintf(format, a...)}
}

// ExecutorActor is the actor an executor redeems as.
func ExecutorActor(name string) models.Actor {
	return models.Actor{Type: models.ActorSystem, ID: "executor:" + name, Display: name}
}

// Redeemed is what a successful redemption returns: what was approved.
type Redeemed struct {
	JTI       string
	RequestID string
	Audience  string
	Action    string
	// Params is the approved parameters as canonical JSON text.
	Params    string
	ExpiresAt time.Time
}

// verified is a token whose signature checked out.
type verified struct {
	claims Claims
}

// Redeem spends a grant once. token is the grant; paramsHash the hex
// SHA-256 of the canonical parameters the redeemer is about to act on
// (ParamsHashOf); redeemer is an executor (ExecutorActor, whose name must
// be the token's audience) or the agent whose own request the grant is for.
// The signature must verify with a published key, exp/nbf hold within the
// leeway, the hash must match, and the stored grant must be unredeemed:
// the compare-and-swap on redeemed_at lets exactly one of any number of
// concurrent redemptions through, across processes. Success is audited
// "grant.redeemed" in the same transaction; every refusal is audited
// "grant.refused" with its reason and returned as *RefusedError.
func (s *Service) Redeem(ctx context.Context, token, paramsHash string, redeemer models.Actor) (*Redeemed, error) {
	return s.redeem(ctx, "", token, paramsHash, redeemer)
}

// RedeemRequest is Redeem for a redeemer that names the request it acts
// on (an agent calling its request's redeem endpoint): a grant of any
// other request is refused (ReasonWrongRequest) and audited before it can
// be spent.
func (s *Service) RedeemRequest(ctx context.Context, requestID, token, paramsHash string, redeemer models.Actor) (*Redeemed, error) {
	if requestID == "" {
		return nil, models.Invalid("request", "is required")
	}
	return s.redeem(ctx, requestID, token, paramsHash, redeemer)
}

// redeem is Redeem; a non-empty requestID must be the grant's subject.
func (s *Service) redeem(ctx context.Context, requestID, token, paramsHash string, redeemer models.Actor) (*Redeemed, error) {
	now := s.clock()
	v, rerr := s.verify(ctx, token, now)
	if rerr != nil {
		return nil, s.refuse(ctx, now, rerr, token, nil, redeemer)
	}
	c := &v.claims
	if requestID != "" && c.Subject != requestID {
		return nil, s.refuse(ctx, now, refused(ReasonWrongRequest, "this grant is for another request"), token, c, redeemer)
	}
	if len(c.Audience) != 1 {
		return nil, s.refuse(ctx, now, refused(ReasonWrongAudience, "the grant must name exactly one audience"), token, c, redeemer)
	}
	aud := c.Audience[0]
	if redeemer.Type != models.ActorAgent && redeemer.ID != "executor:"+aud {
		return nil, s.refuse(ctx, now, refused(ReasonWrongAudience, "this grant is for %q, not %q", aud, redeemer.Display), token, c, redeemer)
	}
	if !strings.EqualFold(paramsHash, c.ParamsSHA256) {
		return nil, s.refuse(ctx, now, refused(ReasonParamsMismatch, "the parameters differ from the approved ones"), token, c, redeemer)
	}
	var out Redeemed
	err := s.store.WithTx(ctx, func(tx *gorm.DB) error {
		return s.spend(tx, c, redeemer, now, &out)
	})
	if err != nil {
		var re *RefusedError
		if errors.As(err, &re) {
			return nil, s.refuse(ctx, now, re, token, c, redeemer)
		}
		return nil, fmt.Errorf("grant: redeem: %w", err)
	}
	return &out, nil
}

// spend checks the stored grant against the verified claims and marks it
// redeemed, with its audit event, in tx.
func (s *Service) spend(tx *gorm.DB, c *Claims, redeemer models.Actor, now time.Time, out *Redeemed) error {
	var g Grant
	err := tx.Take(&g, "jti = ?", c.ID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return refused(ReasonUnknownGrant, "no such grant")
	}
	if err != nil {
		return fmt.Errorf("load grant: %w", err)
	}
	if g.RequestID != c.Subject || g.Audience != c.Audience[0] || g.ParamsSHA256 != c.ParamsSHA256 || g.Action != c.Action {
		return refused(ReasonUnknownGrant, "the grant does not match its stored record")
	}
	switch {
	case g.RedeemedAt != nil || g.State == StateRedeemed:
		return refused(ReasonReplayed, "the grant was already used")
	case g.State == StateExpired:
		return refused(ReasonExpired, "the grant expired")
	}
	var r models.Request
	if err := tx.Omit("Posts", "ToolCalls", "Decisions").Take(&r, "id = ?", g.RequestID).Error; err != nil {
		return fmt.Errorf("load request %s: %w", g.RequestID, err)
	}
	if redeemer.Type == models.ActorAgent && !r.RequestedBy(redeemer) {
		return refused(ReasonWrongAudience, "an agent may redeem only the grant of its own request")
	}
	if r.State != models.StateApproved {
		return refused(ReasonNotApproved, "the request is %s", r.State)
	}
	res := tx.Model(&Grant{}).Where("jti = ? AND redeemed_at IS NULL AND state = ?", g.JTI, StateIssued).
		Updates(map[string]any{"redeemed_at": now, "redeemed_by": redeemer.ID, "state": StateRedeemed})
	if res.Error != nil {
		return fmt.Errorf("mark grant redeemed: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return refused(ReasonReplayed, "the grant was already used")
	}
	if _, err := audit.Append(tx, now, audit.Entry{
		Type: "grant.redeemed", Actor: redeemer, RequestID: r.ID, Purpose: r.Purpose, Action: r.Action, PolicyRef: r.PolicyRef,
		Payload: map[string]any{"jti": g.JTI, "aud": g.Audience, "kid": g.KID, "params_sha256": g.ParamsSHA256},
	}); err != nil {
		return err
	}
	*out = Redeemed{JTI: g.JTI, RequestID: r.ID, Audience: g.Audience, Action: r.Action, Params: r.Params, ExpiresAt: g.ExpiresAt}
	return nil
}

// verify checks the token's form, key, signature, issuer and times.
func (s *Service) verify(ctx context.Context, token string, now time.Time) (*verified, *RefusedError) {
	tok, err := jwt.ParseSigned(strings.TrimSpace(token), []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil || len(tok.Headers) != 1 {
		return nil, refused(ReasonMalformed, "not a signed grant")
	}
	kid := tok.Headers[0].KeyID
	if kid == "" {
		return nil, refused(ReasonUnknownKey, "the grant names no key")
	}
	key, published, err := s.keyByID(s.store.DB(ctx), kid)
	if err != nil || !published {
		return nil, refused(ReasonUnknownKey, "the grant is signed with an unknown or retired key")
	}
	var v verified
	if err := tok.Claims(key.Private.Public(), &v.claims); err != nil {
		return nil, refused(ReasonBadSignature, "the grant's signature does not verify")
	}
	err = v.claims.Claims.ValidateWithLeeway(jwt.Expected{Issuer: s.cfg.Issuer, Time: now}, s.cfg.Leeway)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrExpired):
		return &v, refused(ReasonExpired, "the grant expired")
	case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
		return &v, refused(ReasonNotYetValid, "the grant is not valid yet")
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return &v, refused(ReasonWrongIssuer, "the grant was issued by someone else")
	default:
		return &v, refused(ReasonMalformed, "the grant's claims are invalid")
	}
	if v.claims.ID == "" || v.claims.Subject == "" || v.claims.Expiry == nil {
		return &v, refused(ReasonMalformed, "the grant lacks jti, sub or exp")
	}
	return &v, nil
}

// clip bounds text taken from an untrusted token before it is audited.
func clip(s string) string {
	if len(s) > 128 {
		s = s[:128]
	}
	if !utf8.ValidString(s) {
		return ""
	}
	return s
}

// refuse records "grant.refused" in its own transaction (nothing else
// changes) and returns the refusal. Claims taken from a token whose
// signature did not verify are recorded as claimed, never as the request
// the event belongs to.
func (s *Service) refuse(ctx context.Context, now time.Time, re *RefusedError, token string, c *Claims, redeemer models.Actor) error {
	payload := map[string]any{"reason": string(re.Reason), "detail": re.Detail, "token_sha256": contenthash.Sum([]byte(token))}
	e := audit.Entry{Type: "grant.refused", Actor: redeemer}
	if c != nil {
		e.RequestID, e.Action = c.Subject, clip(c.Action)
		payload["jti"] = c.ID
		payload["aud"] = []string(c.Audience)
	} else if tok, err := jwt.ParseSigned(strings.TrimSpace(token), []jose.SignatureAlgorithm{jose.EdDSA}); err == nil {
		var claimed Claims
		if tok.UnsafeClaimsWithoutVerification(&claimed) == nil {
			payload["claimed"] = map[string]any{"jti": clip(claimed.ID), "sub": clip(claimed.Subject), "unverified": true}
		}
	}
	e.Payload = payload
	if err := redeemer.Validate("redeemer"); err != nil {
		e.Actor = models.Actor{Type: models.ActorSystem, ID: "unknown-redeemer"}
	}
	err := s.store.WithTx(ctx, func(tx *gorm.DB) error {
		_, err := audit.Append(tx, now, e)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w (the refusal could not be audited: %v)", re, err)
	}
	return re
}
