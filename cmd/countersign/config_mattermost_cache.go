package main

import "time"

// The bot's lookup cache (mattermost.cache_ttl): accounts, bot records,
// channels and teams are reused for this long; posts and channel
// membership are always read fresh. See web/mattermost/cache.go for why a
// short TTL is safe for provenance.
const (
	defaultMattermostCacheTTL = 30 * time.Second
	maxMattermostCacheTTL     = 5 * time.Minute
)

// validateMattermostCache keeps the cache short-lived: at most
// maxMattermostCacheTTL, and 0 turns it off.
func (c *Config) validateMattermostCache() error {
	if ttl := c.Mattermost.CacheTTL.D(); ttl < 0 || ttl > maxMattermostCacheTTL {
		return configErrorf("config: mattermost.cache_ttl must be between 0 (off) and %s", maxMattermostCacheTTL)
	}
	return nil
}
