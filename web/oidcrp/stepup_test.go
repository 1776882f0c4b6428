package oidcrp

import (
	"errors"
	"testing"
	"time"
)

func TestStepUpSatisfied(t *testing.T) {
	t.Parallel()
	rp := &RP{cfg: Config{ClockSkew: 30 * time.Second}}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	mfa := "urn:countersign:acr:mfa"
	id := func(age time.Duration, acr string, amr ...string) *Identity {
		return &Identity{Subject: "u", AuthTime: now.Add(-age), ACR: acr, AMR: amr}
	}
	tests := []struct {
		name   string
		id     *Identity
		maxAge time.Duration
		acr    []string
		amr    []string
		want   error
	}{
		{"fresh, no strength rules", id(time.Minute, ""), 5 * time.Minute, nil, nil, nil},
		{"fresh mfa", id(time.Minute, mfa, "pwd", "otp"), 5 * time.Minute, []string{mfa}, []string{"otp", "hwk"}, nil},
		{"exactly max age", id(5*time.Minute, mfa), 5 * time.Minute, nil, nil, nil},
		{"within skew past max age", id(5*time.Minute+29*time.Second, mfa), 5 * time.Minute, nil, nil, nil},
		{"beyond skew past max age", id(5*time.Minute+31*time.Second, mfa), 5 * time.Minute, nil, nil, ErrStaleAuth},
		{"hours old", id(3*time.Hour, mfa), 5 * time.Minute, nil, nil, ErrStaleAuth},
		{"no auth_time", &Identity{Subject: "u", ACR: mfa}, 5 * time.Minute, nil, nil, ErrStaleAuth},
		{"auth_time in the future", id(-time.Minute, mfa), 5 * time.Minute, nil, nil, ErrStaleAuth},
		{"auth_time slightly ahead (skew)", id(-10*time.Second, mfa), 5 * time.Minute, nil, nil, nil},
		{"zero max age fails closed", id(0, mfa), 0, nil, nil, ErrStaleAuth},
		{"nil identity", nil, 5 * time.Minute, nil, nil, ErrStaleAuth},
		{"acr too weak", id(time.Minute, "urn:countersign:acr:pwd", "pwd"), 5 * time.Minute, []string{mfa}, nil, ErrWeakACR},
		{"acr missing", id(time.Minute, "", "pwd"), 5 * time.Minute, []string{mfa}, nil, ErrWeakACR},
		{"amr lacks a wanted method", id(time.Minute, mfa, "pwd"), 5 * time.Minute, nil, []string{"otp", "hwk"}, ErrWeakAMR},
		{"amr empty", id(time.Minute, mfa), 5 * time.Minute, nil, []string{"otp"}, ErrWeakAMR},
		{"stale beats strong", id(time.Hour, mfa, "otp"), 5 * time.Minute, []string{mfa}, []string{"otp"}, ErrStaleAuth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := rp.StepUpSatisfied(tc.id, tc.maxAge, tc.acr, tc.amr, now)
			if tc.want == nil && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
