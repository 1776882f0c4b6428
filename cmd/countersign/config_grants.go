package main

import (
	"encoding/hex"
	"strings"

	"github.com/countersign/countersign/models/grant"
)

// GrantsConfig configures the execution grants' signing keys.
type GrantsConfig struct {
	// SealKey (hex, 32 bytes) encrypts the grant signing keys stored in
	// the database; empty: a key is created in data_dir (grant-seal.key).
	// Replicas must share it.
	SealKey string `yaml:"seal_key"`
}

// grantSealKeyFile is the seal key's file in data_dir.
const grantSealKeyFile = "grant-seal.key"

// validate checks the grants section.
func (g GrantsConfig) validate() error {
	if g.SealKey == "" {
		return nil
	}
	if k, err := hex.DecodeString(strings.TrimSpace(g.SealKey)); err != nil || len(k) != grant.SealKeySize {
		return configErrorf("config: grants.seal_key must be %d bytes of hex", grant.SealKeySize)
	}
	return nil
}
