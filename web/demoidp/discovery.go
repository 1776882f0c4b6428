package demoidp

import (
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// discovery serves the op library's discovery document plus what the
// library does not know this provider supports: the two acr values and
// the claims parameter. RPs (and the portal's config check) read them to
// see that step-up is possible.
func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	ctx := op.ContextWithIssuer(r.Context(), p.cfg.issuer)
	doc := op.CreateDiscoveryConfig(ctx, p.op, p.store)
	doc.ACRValuesSupported = []string{ACRPassword, ACRMFA}
	doc.ClaimsParameterSupported = true
	op.Discover(w, doc)
}
