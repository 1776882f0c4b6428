package main

import (
	"os"
	"time"

	"github.com/countersign/countersign/models/policy"
)

// PolicyConfig locates the policy file: the action catalogue, roles,
// change windows and rules (see docs/policy.example.yaml).
type PolicyConfig struct {
	// File is the policy file. Without one no request can be opened.
	File string `yaml:"file"`
	// ReloadInterval is how often the file is checked for changes
	// (default 5s); a change that does not validate is refused and the
	// policy in force stays.
	ReloadInterval Duration `yaml:"reload_interval"`
}

// interval returns the reload interval with its default.
func (c PolicyConfig) interval() time.Duration {
	if c.ReloadInterval <= 0 {
		return policy.DefaultReloadInterval
	}
	return c.ReloadInterval.D()
}

func (c PolicyConfig) validate() error {
	if c.ReloadInterval != 0 && (c.ReloadInterval.D() < time.Second || c.ReloadInterval.D() > time.Hour) {
		return configErrorf("config: policy.reload_interval must be between 1s and 1h")
	}
	if c.File != "" {
		if st, err := os.Stat(c.File); err != nil {
			return configErrorf("config: policy.file: %v", err)
		} else if st.IsDir() {
			return configErrorf("config: policy.file: %s is a directory", c.File)
		}
	}
	return nil
}
