package main

import (
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/passkey"
)

// passkeyService builds the passkey service for the portal at
// cfg.PublicURL: its host is the relying party id and its origin the one
// origin a signature may come from. Without a public URL, or with an IP
// address for host (WebAuthn relying parties are domains), there is no
// relying party, and passkeys are off (nil). Enrolment needs the same
// fresh sign-in as a decision's step-up (cfg.StepUp).
func passkeyService(store *models.Store, cfg Config, now func() time.Time) (*passkey.Service, error) {
	if cfg.PublicURL == "" {
		return nil, nil
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("passkeys: public_url %q has no host", cfg.PublicURL)
	}
	if net.ParseIP(u.Hostname()) != nil {
		return nil, nil
	}
	rule := stepUpRule(cfg)
	return passkey.New(store, passkey.Config{
		RP:  passkey.RP{ID: u.Hostname(), Origins: []string{u.Scheme + "://" + u.Host}},
		Now: now,
		Fresh: func(a passkey.Auth, at time.Time) error {
			return rule.Check(approval.StepUp{AuthTime: a.Time, ACR: a.ACR, AMR: a.AMR}, at)
		},
	})
}
