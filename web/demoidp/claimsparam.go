package demoidp

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// maxClaimsParam bounds the claims parameter we are willing to parse.
const maxClaimsParam = 4096

// claimsParam is the part of the OIDC `claims` request parameter (Core
// 5.5) this provider understands: the acr request for the ID token.
type claimsParam struct {
	IDToken map[string]*claimRequest `json:"id_token"`
}

// claimRequest is one individual claim request (Core 5.5.1).
type claimRequest struct {
	Essential bool     `json:"essential"`
	Value     *string  `json:"value"`
	Values    []string `json:"values"`
}

// acrFromClaimsParam returns the acr values an RP asked for through the
// claims parameter. They are treated exactly like acr_values, so an RP
// that marks ACRMFA essential gets a mandatory TOTP step either way.
func acrFromClaimsParam(raw string) ([]string, error) {
	if raw == "" {
		return nil, nil
	}
	if len(raw) > maxClaimsParam {
		return nil, fmt.Errorf("claims parameter longer than %d bytes", maxClaimsParam)
	}
	var cp claimsParam
	if err := json.Unmarshal([]byte(raw), &cp); err != nil {
		return nil, fmt.Errorf("claims parameter is not valid JSON: %w", err)
	}
	acr := cp.IDToken["acr"]
	if acr == nil {
		return nil, nil
	}
	var out []string
	if acr.Value != nil {
		out = append(out, *acr.Value)
	}
	out = append(out, acr.Values...)
	return mergeACR(out), nil
}

// authorize reads the claims parameter, which the op library ignores, and
// hands its acr values to CreateAuthRequest through the context before
// the library handles the request.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "invalid authorization request", http.StatusBadRequest)
		return
	}
	values, err := acrFromClaimsParam(r.Form.Get("claims"))
	if err != nil {
		http.Error(w, "invalid claims parameter", http.StatusBadRequest)
		return
	}
	if len(values) > 0 {
		r = r.WithContext(withRequestedACR(r.Context(), values))
	}
	p.op.ServeHTTP(w, r)
}
