package main

import (
	"sort"
	"time"
)

// Bounds of requests.result_timeout.
const (
	minResultTimeout = time.Minute
	maxResultTimeout = 7 * 24 * time.Hour
)

// validateResultTimeout checks requests.result_timeout: how long an
// approved request whose grant was redeemed waits for its result (the
// agent's report or the executor's answer) before the sweeper ends it
// failed. It must leave every executor time for at least one attempt.
func (c *Config) validateResultTimeout() error {
	d := c.Request.ResultTimeout.D()
	if d < minResultTimeout || d > maxResultTimeout {
		return configErrorf("config: requests.result_timeout must be between 1m and 168h (default 1h), not %s", d)
	}
	names := make([]string, 0, len(c.Executors))
	for n := range c.Executors {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if t := c.Executors[n].Timeout.D(); t >= d {
			return configErrorf("config: requests.result_timeout (%s) must be longer than executors.%s.timeout (%s)", d, n, t)
		}
	}
	return nil
}
