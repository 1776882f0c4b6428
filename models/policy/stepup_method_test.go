package policy

import (
	"strings"
	"testing"
)

const passkeyPolicy = `version: 1
roles:
  sre: {idp_groups: [sre]}
actions:
  - {name: restart, params: [{name: env, required: true}]}
rules:
  - name: prod-passkey
    when: request.params.env == "prod"
    require: {approvals: 1, roles: [sre], step_up: {max_age: 2m, method: passkey}}
  - name: staging-idp
    when: "true"
    require: {approvals: 1, roles: [sre], step_up: {method: idp}}
`

func TestStepUpMethodPasskey(t *testing.T) {
	p := mustParse(t, passkeyPolicy)
	out := p.Evaluate(input("restart", map[string]any{"env": "prod"}))
	if out.Rule != "prod-passkey" || !out.StepUp.Passkey {
		t.Fatalf("prod: %+v", out)
	}
	if !strings.Contains(out.Explanation, "each signed with a passkey") {
		t.Errorf("explanation %q does not say a passkey is needed", out.Explanation)
	}
	out = p.Evaluate(input("restart", map[string]any{"env": "staging"}))
	if out.Rule != "staging-idp" || out.StepUp.Passkey || strings.Contains(out.Explanation, "passkey") {
		t.Fatalf("staging keeps the IdP step-up: %+v", out)
	}
	_, err := Parse("p.yaml", []byte(strings.Replace(passkeyPolicy, "method: idp", "method: sms", 1)))
	if err == nil || !strings.Contains(err.Error(), "must be idp or passkey") {
		t.Fatalf("unknown method: %v", err)
	}
}
