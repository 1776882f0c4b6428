package handlers

import (
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/web/oidcrp"
	"github.com/countersign/countersign/web/session"
)

// authOptionsFor is what the provider is asked for a login meant to meet
// rule: max_age, the acceptable acr values (essential when the rule says
// so), and amr through the claims parameter when the rule needs a method,
// since some providers put amr in the ID token only when asked.
func authOptionsFor(rule approval.StepUpRule) oidcrp.AuthOptions {
	maxAge := rule.MaxAge
	return oidcrp.AuthOptions{
		MaxAge: &maxAge, ACRValues: rule.ACR, EssentialACR: rule.EssentialACR && len(rule.ACR) > 0,
		RequestAMR: len(rule.AMRAny) > 0,
	}
}

// loginHint names the signed-in person to the provider at a step-up, so
// it asks for the credentials of that account: the email when the
// provider gave one (most providers sign in by it), else the username.
func loginHint(u *session.User) string {
	if u.Email != "" {
		return u.Email
	}
	return u.Username
}
