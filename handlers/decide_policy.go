package handlers

import (
	"slices"

	"github.com/countersign/countersign/models"
)

// forRequest is the step-up a decision on r needs: the portal's policy,
// tightened by the request's own rules. A shorter max_age wins (the
// configured one stays the ceiling); the request's acr values, when set,
// replace the configured list because the rule named exactly what it
// accepts.
func (p StepUpPolicy) forRequest(r *models.Request) StepUpPolicy {
	out := p
	out.ACRValues, out.AMRAny = slices.Clone(p.ACRValues), slices.Clone(p.AMRAny)
	if r == nil {
		return out
	}
	if r.StepUpMaxAge > 0 && r.StepUpMaxAge < out.MaxAge {
		out.MaxAge = r.StepUpMaxAge
	}
	if len(r.StepUpACR) > 0 {
		out.ACRValues = slices.Clone(r.StepUpACR)
	}
	return out
}
