package demoidp

// Authentication context classes and methods this provider reports. The
// portal's step-up policy names them, so they are part of the contract.
const (
	// ACRPassword is reported when the user proved only a password.
	ACRPassword = "urn:countersign:acr:pwd"
	// ACRMFA is reported when the user also proved a TOTP code. Asking for
	// it (acr_values or an essential acr claim) makes the TOTP step
	// mandatory.
	ACRMFA = "urn:countersign:acr:mfa"
)

// Authentication method references (RFC 8176) used in the amr claim.
const (
	// AMRPassword is a password check.
	AMRPassword = "pwd"
	// AMROTP is a one-time password (here TOTP) check.
	AMROTP = "otp"
	// AMRMFA says more than one factor was used.
	AMRMFA = "mfa"
)

// authStrength is what one completed login proved.
type authStrength struct {
	acr string
	amr []string
}

// passwordOnly and passwordAndTOTP build fresh slices each time so callers
// can never alias (and then mutate) a shared amr slice.
func passwordOnly() authStrength {
	return authStrength{acr: ACRPassword, amr: []string{AMRPassword}}
}

func passwordAndTOTP() authStrength {
	return authStrength{acr: ACRMFA, amr: []string{AMRPassword, AMROTP, AMRMFA}}
}
