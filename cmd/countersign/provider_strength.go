package main

import (
	"log/slog"
	"slices"
	"strings"
)

// providerDiscovery is what the provider's discovery document says about
// the strength it can assert (implemented by *oidcrp.RP).
type providerDiscovery interface {
	Issuer() string
	ACRValuesSupported() []string
	ClaimsSupported() []string
	ClaimsParameterSupported() bool
}

// checkProviderStrength compares the step-up settings with what the
// provider's discovery document says it can assert. A provider that lists
// the acr values or claims it supports and leaves out every one the
// settings rely on could never satisfy a step-up — every decision would be
// refused, and the person who did enter their code would be told to use
// their second factor — so serve refuses to start then, naming the setting
// and the discovery field. What the provider does not list cannot be
// checked here; the warning names it.
func checkProviderStrength(s StepUpConfig, d providerDiscovery, log *slog.Logger) error {
	iss := d.Issuer()
	if len(s.ACRValues) > 0 {
		listed := d.ACRValuesSupported()
		switch {
		case len(listed) == 0:
			log.Warn("the identity provider does not list acr_values_supported in its discovery document: whether it can assert step_up.acr_values shows at the first step-up",
				"issuer", iss, "acr_values", s.ACRValues)
		case !slices.ContainsFunc(s.ACRValues, func(v string) bool { return slices.Contains(listed, v) }):
			return configErrorf("config: %s asks for %s, but %s lists only %s in its discovery document (acr_values_supported): no step-up could succeed",
				setting("step_up.acr_values"), strings.Join(s.ACRValues, ", "), iss, strings.Join(listed, ", "))
		}
	}
	if s.EssentialACR && !d.ClaimsParameterSupported() {
		return configErrorf("config: %s sends the claims parameter, but %s does not support it (claims_parameter_supported is absent or false in its discovery document)",
			setting("step_up.essential_acr"), iss)
	}
	if len(s.AMRAny) > 0 {
		listed := d.ClaimsSupported()
		switch {
		case len(listed) > 0 && !slices.Contains(listed, "amr"):
			return configErrorf("config: %s relies on the amr claim, but %s does not list amr in its discovery document (claims_supported): no step-up could succeed",
				setting("step_up.amr_any"), iss)
		case !d.ClaimsParameterSupported():
			log.Warn("the identity provider does not support the claims parameter (claims_parameter_supported): a provider that sends amr only when asked will never send it, and step_up.amr_any would refuse every step-up",
				"issuer", iss, "amr_any", s.AMRAny)
		}
	}
	if s.PasswordOnly {
		log.Warn("step-ups are password re-entry only (step_up.password_only): every decision says so; set step_up.acr_values or step_up.amr_any for a second factor",
			"issuer", iss)
	}
	return nil
}
