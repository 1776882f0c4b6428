package main

import (
	"encoding/hex"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// MattermostMessagesConfig is what the bot needs to post back into chat:
// its token, whom to DM about new requests, the key that signs buttons,
// and how the outbox retries. Its keys sit directly under `mattermost:`.
type MattermostMessagesConfig struct {
	// BotToken is the bot account's access token (give it through
	// COUNTERSIGN_MATTERMOST_BOT_TOKEN rather than the file). With SiteURL
	// it turns on messages, DMs, buttons and re-checks at decision time.
	BotToken string `yaml:"bot_token"`
	// Approvers are Mattermost usernames DMed about every new request and
	// its reminders, in addition to the people the policy lists under the
	// request's approver roles (never the requester or an agent's sponsor).
	Approvers []string `yaml:"approvers"`
	// ActionKey signs the buttons' context (hex, at least 32 bytes);
	// empty: a key is created in data_dir. Replicas must share it.
	ActionKey string `yaml:"action_key"`
	// RecheckTimeout bounds the re-read of a conversation at decision time.
	RecheckTimeout Duration `yaml:"recheck_timeout"`
	// OutboxMaxAttempts is how often a message is tried before it is
	// marked failed (0: the default, about four hours of retries). Tries
	// made while Mattermost is down do not count.
	OutboxMaxAttempts int `yaml:"outbox_max_attempts"`
	// OutboxConcurrency is how many messages are delivered at once (see
	// config_mattermost_outbox.go).
	OutboxConcurrency int `yaml:"outbox_concurrency"`
	// OutboxProbeInterval is how often a Mattermost found down is asked
	// again.
	OutboxProbeInterval Duration `yaml:"outbox_probe_interval"`
}

// MattermostMessages reports whether the bot posts back into chat.
func (c *Config) MattermostMessages() bool {
	return c.Mattermost.SiteURL != "" && strings.TrimSpace(c.Mattermost.Messages.BotToken) != ""
}

// validateMattermostMessages checks the messages section.
func (c *Config) validateMattermostMessages() error {
	m := c.Mattermost.Messages
	if m.BotToken != "" && c.Mattermost.SiteURL == "" {
		return configErrorf("config: mattermost.bot_token needs mattermost.site_url")
	}
	for _, a := range m.Approvers {
		if !model.IsValidUsername(strings.TrimPrefix(a, "@")) {
			return configErrorf("config: mattermost.approvers: %q is not a Mattermost username", a)
		}
	}
	if m.ActionKey != "" {
		if k, err := hex.DecodeString(m.ActionKey); err != nil || len(k) < 32 {
			return configErrorf("config: mattermost.action_key must be at least 32 bytes of hex")
		}
	}
	if m.RecheckTimeout.D() < 0 || m.RecheckTimeout.D() > time.Minute {
		return configErrorf("config: mattermost.recheck_timeout must be between 0 and 1m")
	}
	if m.OutboxMaxAttempts < 0 {
		return configErrorf("config: mattermost.outbox_max_attempts must not be negative")
	}
	return nil
}

// applyMattermostEnv applies only the COUNTERSIGN_MATTERMOST_* variables
// (the demo takes nothing else from the environment).
func applyMattermostEnv(cfg *Config, env []string) error {
	var mm []string
	for _, kv := range env {
		if strings.HasPrefix(kv, envPrefix+"MATTERMOST_") {
			mm = append(mm, kv)
		}
	}
	return applyEnv(cfg, mm)
}
