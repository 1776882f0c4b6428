package main

import (
	"log/slog"
	"strings"
	"testing"
)

// discovered is a discovery document's strength fields.
type discovered struct {
	acr, claims []string
	claimsParam bool
}

func (d discovered) Issuer() string                 { return "https://idp.example" }
func (d discovered) ACRValuesSupported() []string   { return d.acr }
func (d discovered) ClaimsSupported() []string      { return d.claims }
func (d discovered) ClaimsParameterSupported() bool { return d.claimsParam }

func TestProviderStrengthIsCheckedAgainstDiscovery(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    StepUpConfig
		d    discovered
		want string // "" means start
	}{
		{"acr listed", StepUpConfig{ACRValues: []string{"urn:mfa", "urn:hwk"}}, discovered{acr: []string{"urn:pwd", "urn:hwk"}}, ""},
		{"acr not listed", StepUpConfig{ACRValues: []string{"urn:mfa"}}, discovered{acr: []string{"0", "1"}},
			"step_up.acr_values (COUNTERSIGN_STEP_UP_ACR_VALUES) asks for urn:mfa, but https://idp.example lists only 0, 1 in its discovery document (acr_values_supported)"},
		{"acr not advertised", StepUpConfig{ACRValues: []string{"urn:mfa"}}, discovered{}, ""},
		{"essential acr without claims parameter", StepUpConfig{ACRValues: []string{"urn:mfa"}, EssentialACR: true}, discovered{acr: []string{"urn:mfa"}},
			"step_up.essential_acr (COUNTERSIGN_STEP_UP_ESSENTIAL_ACR) sends the claims parameter"},
		{"essential acr", StepUpConfig{ACRValues: []string{"urn:mfa"}, EssentialACR: true}, discovered{acr: []string{"urn:mfa"}, claimsParam: true}, ""},
		{"amr not a claim", StepUpConfig{AMRAny: []string{"otp"}}, discovered{claims: []string{"sub", "groups"}},
			"step_up.amr_any (COUNTERSIGN_STEP_UP_AMR_ANY) relies on the amr claim, but https://idp.example does not list amr in its discovery document (claims_supported)"},
		{"amr a claim", StepUpConfig{AMRAny: []string{"otp"}}, discovered{claims: []string{"sub", "amr"}, claimsParam: true}, ""},
		{"amr, claims not listed", StepUpConfig{AMRAny: []string{"otp"}}, discovered{}, ""},
		{"password only", StepUpConfig{PasswordOnly: true}, discovered{}, ""},
	} {
		var logs strings.Builder
		err := checkProviderStrength(tc.s, tc.d, slog.New(slog.NewTextHandler(&logs, nil)))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want a start", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
		if tc.name == "acr not advertised" && !strings.Contains(logs.String(), "does not list acr_values_supported") {
			t.Errorf("%s: no warning: %s", tc.name, logs.String())
		}
		if tc.name == "password only" && !strings.Contains(logs.String(), "password re-entry only") {
			t.Errorf("%s: no warning: %s", tc.name, logs.String())
		}
	}
}
