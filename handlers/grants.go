package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models/execution"
	"github.com/countersign/countersign/models/grant"
)

// Grants serves the public keys and the executors' redeem API. Register:
//
//	GET  /.well-known/jwks.json   → JWKS
//	POST /api/v1/grants/redeem    → Redeem
type Grants struct {
	svc  *grant.Service
	auth *execution.Credentials
}

// NewGrants returns the grant endpoints.
func NewGrants(svc *grant.Service, auth *execution.Credentials) *Grants {
	return &Grants{svc: svc, auth: auth}
}

// JWKS publishes the grant verification keys. Caches may keep them a
// minute; executors should refetch when they meet an unknown kid.
func (h *Grants) JWKS(c echo.Context) error {
	set, err := h.svc.JWKS(c.Request().Context())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=60")
	return c.JSON(http.StatusOK, set)
}

// redeemForm is the redeem API's body.
type redeemForm struct {
	Grant        string          `json:"grant"`
	Params       json.RawMessage `json:"params"`
	ParamsSHA256 string          `json:"params_sha256"`
}

// redeemAnswer is the success body.
type redeemAnswer struct {
	Status    string          `json:"status"`
	RequestID string          `json:"request_id"`
	Action    string          `json:"action"`
	Params    json.RawMessage `json:"params"`
	JTI       string          `json:"jti"`
	ExpiresAt string          `json:"expires_at"`
}

// redeemRefusal is the error body: reason is a stable code
// (grant.Reason, or "unauthenticated", "invalid").
type redeemRefusal struct {
	Error  string `json:"error"`
	Reason string `json:"reason"`
}

// Redeem spends a grant for the executor named by the bearer credential.
func (h *Grants) Redeem(c echo.Context) error {
	name, ok := "", false
	if auth := c.Request().Header.Get("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		name, ok = h.auth.Authenticate(strings.TrimSpace(auth[7:]))
	}
	if !ok {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="countersign-executors"`)
		return c.JSON(http.StatusUnauthorized, redeemRefusal{Error: "an executor credential is required (Authorization: Bearer …)", Reason: "unauthenticated"})
	}
	var f redeemForm
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return c.JSON(http.StatusBadRequest, redeemRefusal{Error: "the body must be JSON: {\"grant\": …, \"params\": {…}} or {\"grant\": …, \"params_sha256\": …}", Reason: "invalid"})
	}
	hasParams := len(bytes.TrimSpace(f.Params)) > 0
	if f.Grant == "" || hasParams == (f.ParamsSHA256 != "") {
		return c.JSON(http.StatusBadRequest, redeemRefusal{Error: "give the grant and exactly one of params or params_sha256", Reason: "invalid"})
	}
	hash := f.ParamsSHA256
	if hasParams {
		var err error
		if hash, err = grant.ParamsHashOf(f.Params); err != nil {
			return c.JSON(http.StatusBadRequest, redeemRefusal{Error: "params must be a JSON object", Reason: "invalid"})
		}
	}
	red, err := h.svc.Redeem(c.Request().Context(), f.Grant, hash, grant.ExecutorActor(name))
	var re *grant.RefusedError
	if errors.As(err, &re) {
		status := http.StatusForbidden
		if re.Reason == grant.ReasonReplayed {
			status = http.StatusConflict
		}
		return c.JSON(status, redeemRefusal{Error: re.Detail, Reason: string(re.Reason)})
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, redeemAnswer{
		Status: "redeemed", RequestID: red.RequestID, Action: red.Action, Params: json.RawMessage(red.Params),
		JTI: red.JTI, ExpiresAt: red.ExpiresAt.UTC().Format(time.RFC3339),
	})
}
