package models

import (
	"database/sql/driver"
	"fmt"
	"strings"
	"time"
)

// Words is a list of single words (role names, acr values) stored as
// space-separated text.
type Words []string

// Value stores the words joined by spaces.
func (w Words) Value() (driver.Value, error) { return strings.Join(w, " "), nil }

// Scan reads space-separated text.
func (w *Words) Scan(src any) error {
	s, err := scanText(src)
	if err != nil {
		return fmt.Errorf("words: %w", err)
	}
	*w = strings.Fields(s)
	if len(*w) == 0 {
		*w = nil
	}
	return nil
}

// Lines is a list of one-line texts stored one per line.
type Lines []string

// Value stores the lines joined by newlines (a line's own line breaks
// become spaces).
func (l Lines) Value() (driver.Value, error) {
	parts := make([]string, len(l))
	for i, v := range l {
		parts[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(parts, "\n"), nil
}

// Scan reads newline-separated text.
func (l *Lines) Scan(src any) error {
	s, err := scanText(src)
	if err != nil {
		return fmt.Errorf("lines: %w", err)
	}
	*l = nil
	for _, line := range strings.Split(s, "\n") {
		if line != "" {
			*l = append(*l, line)
		}
	}
	return nil
}

// Durations is a list of durations stored as space-separated Go duration
// text ("15m0s 45m0s").
type Durations []time.Duration

// Value stores the durations as text.
func (d Durations) Value() (driver.Value, error) {
	parts := make([]string, len(d))
	for i, v := range d {
		parts[i] = v.String()
	}
	return strings.Join(parts, " "), nil
}

// Scan reads space-separated durations.
func (d *Durations) Scan(src any) error {
	s, err := scanText(src)
	if err != nil {
		return fmt.Errorf("durations: %w", err)
	}
	var out Durations
	for _, f := range strings.Fields(s) {
		v, err := time.ParseDuration(f)
		if err != nil {
			return fmt.Errorf("durations: %q: %w", f, err)
		}
		out = append(out, v)
	}
	*d = out
	return nil
}

func scanText(src any) (string, error) {
	switch v := src.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	}
	return "", fmt.Errorf("cannot scan %T", src)
}

// ApprovalRules are the per-request settings the matching policy rule
// decided (stored on the request, so a later policy reload does not change
// what an open request needs). Zero values mean the configured defaults.
type ApprovalRules struct {
	// ApproverRoles may decide the request (any of them).
	ApproverRoles Words `gorm:"column:approver_roles"`
	// StepUpMaxAge and StepUpACR tighten the decision's fresh
	// authentication.
	StepUpMaxAge time.Duration `gorm:"column:step_up_max_age_ns"`
	StepUpACR    Words         `gorm:"column:step_up_acr"`
	// StepUpPasskey asks that each decision be signed with a passkey.
	StepUpPasskey bool `gorm:"column:step_up_passkey"`
	// GrantTTL is the execution grant's lifetime once approved.
	GrantTTL time.Duration `gorm:"column:grant_ttl_ns"`
	// EscalateRoles may also decide, and are told, once EscalateAfter has
	// passed since creation without a final decision.
	EscalateRoles Words         `gorm:"column:escalate_roles"`
	EscalateAfter time.Duration `gorm:"column:escalate_after_ns"`
	// Remind lists offsets from creation at which approvers are reminded.
	Remind Durations `gorm:"column:remind"`
	// PolicyWindow is the change window the matching rule required.
	PolicyWindow string `gorm:"column:policy_window"`
	// PolicyExplanation says the policy's outcome in plain words.
	PolicyExplanation string `gorm:"column:policy_explanation"`
}

// DeciderRoles returns the roles that may decide the request at now: its
// approver roles, plus the escalation roles once the escalation time has
// passed. Nil means the configured default roles apply.
func (r *Request) DeciderRoles(now time.Time) []string {
	if len(r.ApproverRoles) == 0 {
		return nil
	}
	out := append([]string(nil), r.ApproverRoles...)
	if len(r.EscalateRoles) > 0 && r.EscalateAfter > 0 && !now.Before(r.CreatedAt.Add(r.EscalateAfter)) {
		out = append(out, r.EscalateRoles...)
	}
	return out
}
