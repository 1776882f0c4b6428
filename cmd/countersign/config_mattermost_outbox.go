package main

import (
	"time"

	"github.com/countersign/countersign/web/mattermost/notify"
)

// How the outbox delivers (mattermost.outbox_concurrency and
// mattermost.outbox_probe_interval): how many messages go to Mattermost at
// once (messages of one request still go one after another), and how
// often a Mattermost found down is asked again (delivery resumes about
// that long after it is back).
const (
	maxOutboxConcurrency   = 256
	minOutboxProbeInterval = 100 * time.Millisecond
	maxOutboxProbeInterval = time.Minute
)

// validateMattermostOutbox keeps the pool bounded and the probe neither a
// flood nor a long wait.
func (c *Config) validateMattermostOutbox() error {
	m := c.Mattermost.Messages
	if m.OutboxConcurrency < 1 || m.OutboxConcurrency > maxOutboxConcurrency {
		return configErrorf("config: mattermost.outbox_concurrency must be between 1 and %d", maxOutboxConcurrency)
	}
	if p := m.OutboxProbeInterval.D(); p < minOutboxProbeInterval || p > maxOutboxProbeInterval {
		return configErrorf("config: mattermost.outbox_probe_interval must be between %s and %s", minOutboxProbeInterval, maxOutboxProbeInterval)
	}
	return nil
}

// defaultMattermostOutbox is what an empty configuration means.
func defaultMattermostOutbox() MattermostMessagesConfig {
	return MattermostMessagesConfig{
		OutboxConcurrency:   notify.DefaultConcurrency,
		OutboxProbeInterval: Duration(notify.DefaultProbeInterval),
	}
}
