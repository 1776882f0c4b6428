package main

import (
	"time"

	"github.com/countersign/countersign/web/mattermost/listen"
)

// MattermostWebSocketConfig is the bot's WebSocket connection
// (web/mattermost/listen): on by default whenever the bot is configured.
type MattermostWebSocketConfig struct {
	// Disabled turns the connection off: mentions of the bot are not
	// answered, and edits of captured posts are found only when someone
	// decides.
	Disabled bool `yaml:"disabled"`
	// CatchUp is how far back a (re)connect reads the bot's channels for
	// mentions and edits it missed (default 10m, at most 24h).
	CatchUp Duration `yaml:"catch_up"`
}

// maxMattermostCatchUp bounds the catch-up: answering a mention a day late
// would surprise more than it helps.
const maxMattermostCatchUp = 24 * time.Hour

// validateMattermostWebSocket checks mattermost.websocket.
func (c *Config) validateMattermostWebSocket() error {
	if d := c.Mattermost.WebSocket.CatchUp.D(); d < 0 || d > maxMattermostCatchUp {
		return configErrorf("config: mattermost.websocket.catch_up must be between 0 (the default, %s) and %s", listen.DefaultCatchUp, maxMattermostCatchUp)
	}
	return nil
}

// MattermostListens reports whether the bot keeps a WebSocket open.
func (c Config) MattermostListens() bool {
	return c.MattermostMessages() && !c.Mattermost.WebSocket.Disabled
}
